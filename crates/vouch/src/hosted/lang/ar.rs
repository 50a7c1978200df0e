//! Arabic (العربية), written right to left: every sentence of the person's page. Emails have no
//! Arabic yet, so this file names the steps itself.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "ar",
    dir: Dir::Rtl,
    name: "العربية",
    title: "التحقق من الهوية",
    skip_to_content: "انتقل إلى المحتوى",
    start_heading: "تحقّق من هويتك لدى {brand}",
    start_intro: "يستغرق الأمر بضع دقائق. احتفظ بوثيقة هويتك في متناول يدك.",
    steps_heading: "خطواتك",
    todo: "مطلوبة",
    done: "مكتملة",
    automatic: "يُتحقَّق منها تلقائيًا بعد انتهائك",
    not_available: "غير متاحة في هذه الصفحة: سيخبرك {brand} بكيفية إكمالها",
    reason: "سبب طلبها مرة أخرى:",
    resubmitted_heading: "يرجى إعادة بعض الخطوات لدى {brand}",
    resubmitted_intro: "المطلوب فقط الخطوات أدناه، ويُحتفظ بكل ما عداها.",
    in_review_heading: "شكرًا لك: التحقق الخاص بك قيد المراجعة",
    in_review_body: "لا يلزمك فعل أي شيء آخر الآن. سيبلغك {brand} بالنتيجة.",
    approved_heading: "تم التحقق من هويتك",
    approved_body: "لا يلزمك فعل أي شيء آخر.",
    declined_heading: "تعذّر علينا التحقق من هويتك",
    declined_body: "إذا كانت لديك أي أسئلة، فتواصل مع {brand} مباشرة.",
    kyc_expired_heading: "انتهت صلاحية التحقق الخاص بك",
    kyc_expired_body: "اطلب من {brand} رابط تحقق جديدًا.",
    back_to: "العودة إلى {brand}",
    expired_heading: "انتهت صلاحية هذا الرابط",
    abandoned_heading: "لم يكتمل هذا التحقق في الوقت المحدد",
    deleted_heading: "لم يعد هذا الرابط صالحًا",
    ended_body: "اطلب من {brand} رابط تحقق جديدًا.",
    unknown_heading: "هذا الرابط غير موجود",
    unknown_body: "تحقّق من العنوان، أو اطلب رابطًا جديدًا من الجهة التي أرسلته إليك.",
    language_label: "اللغة",
    language_submit: "تغيير",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    match f {
        Feature::Ocr => "وثيقة الهوية",
        Feature::Nfc => "قراءة شريحة الوثيقة",
        Feature::Liveness => "فيديو سيلفي",
        Feature::FaceMatch => "مطابقة الوجه",
        Feature::ProofOfAddress => "إثبات العنوان",
        Feature::PhoneVerification => "رقم الهاتف",
        Feature::EmailVerification => "عنوان البريد الإلكتروني",
        Feature::Aml => "التدقيق في القوائم",
        Feature::DatabaseValidation => "التحقق من البيانات",
        Feature::IpAnalysis => "التحقق من الاتصال",
        Feature::Questionnaire => "استبيان",
        Feature::AgeEstimation => "التحقق من العمر",
        Feature::FaceSearch => "البحث عن الوجه",
        Feature::DocumentAi => "مستند",
        Feature::KybRegistry => "السجل التجاري",
        Feature::KybKeyPeople => "الأشخاص الرئيسيون",
        Feature::KybDocuments => "مستندات الشركة",
    }
}
