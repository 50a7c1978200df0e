//! `vouch users …`: the reviewer console's accounts.

use std::io::BufRead;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::json;
use vouch_core::console::Role;
use vouch_core::AppId;
use vouch_store::{ConsoleEvent, ConsoleUser, Store, UserChange};

use crate::console::password;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a console user. Its password is generated and printed once, unless
    /// `--password-stdin` reads it from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// An application (name or id) whose sessions the user sees; repeat for several. None:
        /// every application.
        #[arg(long = "app")]
        apps: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role or applications (recorded).
    Update {
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// Replaces the user's applications; `--all-apps` for every application.
        #[arg(long = "app")]
        apps: Vec<String>,
        #[arg(long, conflicts_with = "apps")]
        all_apps: bool,
    },
    /// List the console's users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: its logins end at once and it cannot log in.
    Disable { email: String },
    /// Enable a disabled user again.
    Enable { email: String },
    /// Set a new password (generated and printed once, or `--password-stdin`); the user's
    /// logins end.
    ResetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set up (`on`: a new secret, printed once as an `otpauth://` URI for an authenticator
    /// app) or remove (`off`) a user's second factor; its logins end.
    Totp {
        email: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[arg(long)]
        json: bool,
    },
    /// What console users did, newest first: logins, failed logins, role changes.
    Events {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?}: a role is admin, reviewer or viewer"))
}

/// An email address as the console compares them: trimmed and lower-cased.
pub fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn checked_email(email: &str) -> anyhow::Result<String> {
    let e = normal_email(email);
    let ok = e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !e.chars().any(char::is_whitespace)
    });
    if !ok {
        bail!("{email:?} is not an email address");
    }
    Ok(e)
}

/// The chosen password (from standard input) or a generated one, and whether it was generated.
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((password::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if let Some(why) = password::refusal(&p) {
        bail!("{why}");
    }
    Ok((p, false))
}

async fn app_ids(store: &dyn Store, names: &[String]) -> anyhow::Result<Vec<AppId>> {
    let mut ids = Vec::new();
    for n in names {
        let app = store
            .find_app(n)
            .await?
            .with_context(|| format!("no application named or with id {n:?}"))?;
        if !ids.contains(&app.id) {
            ids.push(app.id);
        }
    }
    Ok(ids)
}

fn row(u: &ConsoleUser) -> serde_json::Value {
    json!({"id": u.id, "email": u.email, "role": u.role.as_str(), "apps": u.apps,
           "disabled": u.disabled_at.is_some(), "second_factor": u.totp_secret.is_some(),
           "created_at": u.created_at})
}

async fn change(
    store: &dyn Store,
    email: &str,
    change: UserChange,
    events: Vec<ConsoleEvent>,
) -> anyhow::Result<ConsoleUser> {
    store
        .update_console_user(normal_email(email), change, events)
        .await?
        .with_context(|| format!("no console user with the email {email:?}"))
}

pub async fn run(store: &dyn Store, c: UsersCommand) -> anyhow::Result<()> {
    let now = crate::clock::now();
    match c {
        UsersCommand::Create {
            email,
            role,
            apps,
            password_stdin,
            json,
        } => {
            let email = checked_email(&email)?;
            let apps = app_ids(store, &apps).await?;
            let (pw, generated) = new_password(password_stdin)?;
            let user = ConsoleUser {
                id: uuid::Uuid::now_v7(),
                email: email.clone(),
                password_hash: password::hash(&pw)?,
                role,
                apps,
                disabled_at: None,
                created_at: now,
                totp_secret: None,
                totp_last_step: None,
            };
            let mut event = ConsoleEvent::new("user_created", &email, now);
            event.detail = Some(format!("role {}", role.as_str()));
            store.create_console_user(user.clone(), event).await?;
            if json {
                let mut r = row(&user);
                if generated {
                    r["password"] = json!(pw);
                }
                println!("{r}");
            } else {
                println!("created console user {email} ({}).", role.as_str());
                if generated {
                    println!("Its password is shown only once; hand it over now:\n\n    {pw}\n");
                }
            }
        }
        UsersCommand::Update {
            email,
            role,
            apps,
            all_apps,
        } => {
            let before = store
                .console_user(normal_email(&email))
                .await?
                .with_context(|| format!("no console user with the email {email:?}"))?;
            let apps = if all_apps {
                Some(Vec::new())
            } else if apps.is_empty() {
                None
            } else {
                Some(app_ids(store, &apps).await?)
            };
            let mut events = Vec::new();
            if let Some(r) = role.filter(|r| *r != before.role) {
                let mut e = ConsoleEvent::new("role_changed", &before.email, now);
                e.detail = Some(format!("{} -> {}", before.role.as_str(), r.as_str()));
                events.push(e);
            }
            if apps.as_ref().is_some_and(|a| *a != before.apps) {
                events.push(ConsoleEvent::new("apps_changed", &before.email, now));
            }
            let u = change(
                store,
                &email,
                UserChange {
                    role,
                    apps,
                    ..UserChange::default()
                },
                events,
            )
            .await?;
            println!("{}", row(&u));
        }
        UsersCommand::List { json } => {
            let users = store.console_users().await?;
            if json {
                let rows: Vec<_> = users.iter().map(row).collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for u in users {
                    let state = if u.disabled_at.is_some() {
                        "disabled"
                    } else {
                        ""
                    };
                    println!("{:<40} {:<8} {state}", u.email, u.role.as_str());
                }
            }
        }
        UsersCommand::Disable { email } => {
            let e = ConsoleEvent::new("disabled", &normal_email(&email), now);
            let ch = UserChange {
                disabled_at: Some(Some(now)),
                ..UserChange::default()
            };
            let u = change(store, &email, ch, vec![e]).await?;
            println!("disabled console user {}; its logins have ended", u.email);
        }
        UsersCommand::Enable { email } => {
            let e = ConsoleEvent::new("enabled", &normal_email(&email), now);
            let ch = UserChange {
                disabled_at: Some(None),
                ..UserChange::default()
            };
            let u = change(store, &email, ch, vec![e]).await?;
            println!("enabled console user {}", u.email);
        }
        UsersCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let (pw, generated) = new_password(password_stdin)?;
            let e = ConsoleEvent::new("password_reset", &normal_email(&email), now);
            let ch = UserChange {
                password_hash: Some(password::hash(&pw)?),
                ..UserChange::default()
            };
            let u = change(store, &email, ch, vec![e]).await?;
            println!("reset the password of {}; its logins have ended.", u.email);
            if generated {
                println!("The new password is shown only once:\n\n    {pw}\n");
            }
        }
        UsersCommand::Totp { email, state, json } => {
            let on = state == "on";
            let secret: Option<[u8; 20]> = on.then(rand::random);
            let encoded = secret.map(|s| vouch_core::totp::encode_secret(&s));
            let kind = if on { "totp_enabled" } else { "totp_disabled" };
            let e = ConsoleEvent::new(kind, &normal_email(&email), now);
            let ch = UserChange {
                totp_secret: Some(encoded.clone()),
                ..UserChange::default()
            };
            let u = change(store, &email, ch, vec![e]).await?;
            match secret {
                Some(s) => {
                    let uri = vouch_core::totp::uri("vouch", &u.email, &s);
                    if json {
                        println!(
                            "{}",
                            json!({"email": u.email, "secret": encoded, "uri": uri})
                        );
                    } else {
                        println!(
                            "A second factor is set up for {}; its logins have ended. Add it to an \
                             authenticator app (shown only once):\n\n    {uri}\n\nor type the \
                             secret {}.",
                            u.email,
                            encoded.unwrap_or_default()
                        );
                    }
                }
                None => println!("removed the second factor of {}", u.email),
            }
        }
        UsersCommand::Events { limit, json } => {
            let events = store.console_events(limit.clamp(1, 10_000)).await?;
            for e in events {
                if json {
                    println!(
                        "{}",
                        json!({"at": e.at, "kind": e.kind, "email": e.email,
                               "address": e.address, "detail": e.detail})
                    );
                } else {
                    println!(
                        "{}  {:<18} {:<32} {} {}",
                        e.at.to_rfc3339(),
                        e.kind,
                        e.email,
                        e.address.unwrap_or_default(),
                        e.detail.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}
