//! Typed ids: an application's id cannot be passed where a session's is expected.
//!
//! Each is a UUID on the wire and in the database (same text, same bytes): the type exists only
//! for the compiler. `Display`, `FromStr` and serde all go through the UUID's own forms.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7: index-friendly, sorts by creation).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// A new random id (UUIDv4), for ids that must not reveal when they were made.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn from_u128(v: u128) -> Self {
                Self(Uuid::from_u128(v))
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }

            pub const fn nil() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

ids! {
    /// An application: the tenant every key, workflow, session and destination belongs to.
    AppId;
    /// An API key (its id, not its secret).
    KeyId;
    /// A workflow, across all its versions.
    WorkflowId;
    /// A verification session (user or business).
    SessionId;
    /// A webhook destination.
    DestinationId;
    /// One delivery of one event to one destination.
    DeliveryId;
    /// An event; every delivery of it carries the same id.
    EventId;
    /// One stored file the person captured (an image side, a selfie, a document).
    MediaId;
    /// One engine job: a submitted step on its way to a verification engine.
    EngineJobId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_and_writes_as_its_uuid() {
        let u = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        let id = SessionId::from(u);
        assert_eq!(id.to_string(), u.to_string());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{u}\""));
        assert_eq!(u.to_string().parse::<SessionId>().unwrap(), id);
        assert_eq!(
            serde_json::from_str::<SessionId>(&format!("\"{u}\"")).unwrap(),
            id
        );
        assert!("not-a-uuid".parse::<AppId>().is_err());
        assert_eq!(Uuid::from(id), u);
    }

    #[test]
    fn generated_ids_are_distinct_and_time_ordered() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert_ne!(a, b);
        assert!(a < b, "v7 ids sort by creation");
        assert_eq!(a.uuid().get_version_num(), 7);
        assert_eq!(SessionId::random().uuid().get_version_num(), 4);
    }
}
