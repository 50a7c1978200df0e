//! An OpenID Connect ID token, checked: its RS256 or ES256 signature against the provider's JWKS
//! (ring), its issuer, audience, expiry (60 s of clock skew) and nonce.

use base64::Engine;
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The claims of an ID token whose signature is one of the provider's keys; its issuer,
/// audience, expiry and nonce checked.
pub fn verify_id_token(
    token: &str,
    jwks: &Value,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> anyhow::Result<Value> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("an ID token has three parts");
    };
    let header: Value = serde_json::from_slice(&B64.decode(h)?)?;
    let claims: Value = serde_json::from_slice(&B64.decode(p)?)?;
    let signature = B64.decode(s)?;
    let alg = header["alg"].as_str().unwrap_or("");
    let kid = header["kid"].as_str();
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| kid.is_none_or(|kid| k["kid"].as_str() == Some(kid)))
        .ok_or_else(|| anyhow::anyhow!("no key {kid:?} in the provider's JWKS"))?;
    let signed = format!("{h}.{p}");
    let b = |name: &str| -> anyhow::Result<Vec<u8>> {
        Ok(B64.decode(key[name].as_str().unwrap_or(""))?)
    };
    let ok = match alg {
        "RS256" => ring::signature::RsaPublicKeyComponents {
            n: b("n")?,
            e: b("e")?,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .is_ok(),
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(b("x")?);
            point.extend(b("y")?);
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point,
            )
            .verify(signed.as_bytes(), &signature)
            .is_ok()
        }
        other => anyhow::bail!("ID tokens signed with {other:?} are not accepted (RS256, ES256)"),
    };
    anyhow::ensure!(ok, "the ID token's signature is not the provider's");
    anyhow::ensure!(
        claims["iss"].as_str().map(|i| i.trim_end_matches('/'))
            == Some(issuer.trim_end_matches('/')),
        "the ID token's issuer is {}",
        claims["iss"]
    );
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    anyhow::ensure!(aud_ok, "the ID token is not for this client");
    anyhow::ensure!(
        claims["exp"].as_i64().is_some_and(|e| e + 60 > now),
        "the ID token has expired"
    );
    anyhow::ensure!(
        claims["nonce"].as_str() == Some(nonce),
        "the ID token's nonce is not this login's"
    );
    Ok(claims)
}
