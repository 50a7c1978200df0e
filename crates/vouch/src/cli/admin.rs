//! `vouch apps …` and `vouch keys …`: applications and their API keys.

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use vouch_core::scopes::{Access, Scopes};
use vouch_core::session::Environment;
use vouch_core::AppId;
use vouch_store::{App, Store};

use super::{AppsCommand, KeysCommand};
use crate::server;

async fn find_app(store: &dyn Store, name_or_id: &str) -> anyhow::Result<App> {
    store
        .find_app(name_or_id)
        .await?
        .with_context(|| format!("no application named or with id {name_or_id:?}"))
}

fn parse_expiry(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("--expires {s:?}: expected a time or a duration like 90d"))?;
    let d = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        "s" | "" => Duration::seconds(n),
        _ => bail!("--expires {s:?}: unit must be d, h, m or s"),
    };
    Ok(now + d)
}

/// `https://host[:port]` origins, comma-separated; anything with a path, query or another
/// scheme is refused with the value named.
pub fn parse_origins(list: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let u = url::Url::parse(item)
            .map_err(|e| anyhow::anyhow!("--allowed-domains {item:?}: {e}"))?;
        anyhow::ensure!(
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty(),
            "--allowed-domains {item:?}: an origin is scheme://host[:port], nothing more"
        );
        let origin = u.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

pub(super) async fn apps(store: &dyn Store, c: AppsCommand) -> anyhow::Result<()> {
    match c {
        AppsCommand::Create {
            name,
            sandbox,
            json,
        } => {
            if name.trim().is_empty() {
                bail!("the application name must not be empty");
            }
            let app = store
                .create_app(App {
                    id: AppId::random(),
                    name: name.trim().to_string(),
                    mode: if sandbox {
                        Environment::Sandbox
                    } else {
                        Environment::Live
                    },
                    created_at: crate::clock::now(),
                })
                .await?;
            if json {
                println!(
                    "{}",
                    json!({"app_id": app.id, "name": app.name, "mode": app.mode})
                );
            } else {
                println!(
                    "created application {:?} ({}), mode {}",
                    app.name,
                    app.id,
                    app.mode.as_str()
                );
            }
        }
        AppsCommand::Update {
            app,
            email_sender_name,
            email_brand,
            allowed_domains,
            four_eyes,
        } => {
            let app = find_app(store, &app).await?;
            if let Some(on) = four_eyes {
                store.set_four_eyes(app.id, on).await?;
                let state = if on { "on" } else { "off" };
                println!("four-eyes review is {state} for application {:?}", app.name);
                if email_sender_name.is_none() && email_brand.is_none() && allowed_domains.is_none()
                {
                    return Ok(());
                }
            }
            if let Some(list) = allowed_domains {
                let origins = parse_origins(&list)?;
                store
                    .set_app_allowed_domains(app.id, origins.clone())
                    .await?;
                if origins.is_empty() {
                    println!("application {:?} may no longer be embedded", app.name);
                } else {
                    println!(
                        "application {:?} may be embedded by {}",
                        app.name,
                        origins.join(", ")
                    );
                }
                if email_sender_name.is_none() && email_brand.is_none() {
                    return Ok(());
                }
            }
            let clean = |v: Option<String>| v.map(|s| s.trim().to_string());
            if email_sender_name
                .as_deref()
                .or(email_brand.as_deref())
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                bail!("email branding must not contain control characters");
            }
            store
                .set_app_branding(app.id, clean(email_sender_name), clean(email_brand))
                .await?;
            println!("updated the email branding of application {:?}", app.name);
        }
        AppsCommand::List { json } => {
            let apps = store.list_apps().await?;
            if json {
                let rows: Vec<_> = apps
                    .iter()
                    .map(|a| json!({"app_id": a.id, "name": a.name, "mode": a.mode, "created_at": a.created_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for a in apps {
                    println!("{}  {:<8} {}", a.id, a.mode.as_str(), a.name);
                }
            }
        }
    }
    Ok(())
}

fn scopes_json(s: &Scopes) -> serde_json::Value {
    json!({"sessions": s.sessions, "decisions": s.decisions, "webhooks": s.webhooks, "workflows": s.workflows, "media": s.media})
}

pub(super) async fn keys(store: &dyn Store, c: KeysCommand) -> anyhow::Result<()> {
    match c {
        KeysCommand::Create {
            app,
            name,
            scopes,
            expires,
            rate_limit,
            json,
        } => {
            let app = find_app(store, &app).await?;
            let base = scopes.all.unwrap_or(Access::None);
            let s = Scopes {
                sessions: scopes.sessions.unwrap_or(base),
                decisions: scopes.decisions.unwrap_or(base),
                webhooks: scopes.webhooks.unwrap_or(base),
                workflows: scopes.workflows.unwrap_or(base),
                media: scopes.media.unwrap_or(base.min(Access::Read)),
            };
            if s.media == Access::Write {
                bail!("--media is none or read: media cannot be written with a key");
            }
            if s == Scopes::all(Access::None) {
                bail!("grant at least one privilege, e.g. --all write or --sessions read");
            }
            let now = crate::clock::now();
            let expires_at = expires.map(|e| parse_expiry(&e, now)).transpose()?;
            if expires_at.is_some_and(|t| t <= now) {
                bail!("--expires is in the past");
            }
            let (record, key) =
                server::create_key(store, &app, name, s, expires_at, rate_limit.0).await?;
            if json {
                println!(
                    "{}",
                    json!({"key_id": record.id, "key": key, "app_id": app.id, "scopes": scopes_json(&s), "expires_at": expires_at})
                );
            } else {
                println!("created key {} for application {:?}.", record.id, app.name);
                println!("It is shown only once; store it now:\n\n    {key}\n");
            }
        }
        KeysCommand::List { app, json } => {
            let app = find_app(store, &app).await?;
            let keys = store.list_keys(app.id).await?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({"key_id": k.id, "name": k.name, "prefix": k.prefix, "last4": k.last4,
                        "scopes": scopes_json(&k.scopes), "expires_at": k.expires_at,
                        "revoked_at": k.revoked_at, "created_at": k.created_at,
                        "rate_limit": k.rate_limit})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked".to_string()
                    } else if let Some(t) = k.expires_at {
                        format!("expires {}", t.to_rfc3339())
                    } else {
                        "active".to_string()
                    };
                    let limit = k
                        .rate_limit
                        .map_or_else(|| "default".to_string(), |n| n.to_string());
                    println!(
                        "{}  {}…{}  sessions:{} decisions:{} webhooks:{} workflows:{}  rate limit:{limit}  {state}",
                        k.id,
                        k.prefix,
                        k.last4,
                        k.scopes.sessions.as_str(),
                        k.scopes.decisions.as_str(),
                        k.scopes.webhooks.as_str(),
                        k.scopes.workflows.as_str()
                    );
                }
            }
        }
        KeysCommand::Update { key_id, rate_limit } => {
            if !store.set_key_rate_limit(key_id, rate_limit.0).await? {
                bail!("no key with id {key_id}");
            }
            match rate_limit.0 {
                Some(n) => println!("key {key_id}: {n} requests per rate-limit window"),
                None => println!("key {key_id}: the configured rate limit (rate_limit.per_key)"),
            }
        }
        KeysCommand::Revoke { key_id } => {
            if store.revoke_key(key_id, crate::clock::now()).await? {
                println!("revoked key {key_id}");
            } else {
                bail!("no key with id {key_id}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_accepts_durations_and_times() {
        let now = crate::clock::now();
        assert_eq!(parse_expiry("2d", now).unwrap(), now + Duration::days(2));
        assert_eq!(
            parse_expiry("30m", now).unwrap(),
            now + Duration::minutes(30)
        );
        assert!(parse_expiry("2030-01-01T00:00:00Z", now).is_ok());
        assert!(parse_expiry("soon", now).is_err());
        assert!(parse_expiry("3w", now).is_err());
    }

    #[test]
    fn allowed_domains_are_origins_and_nothing_more() {
        assert_eq!(
            parse_origins(
                " https://Shop.example , https://shop.example:8443,https://shop.example/"
            )
            .unwrap(),
            ["https://shop.example", "https://shop.example:8443"]
        );
        assert!(parse_origins("").unwrap().is_empty());
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/path",
            "https://a@shop.example",
            "https://shop.example?x=1",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }
}
