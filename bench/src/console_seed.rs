//! Seeding the console and scale benchmarks: one session made through the API cloned many times
//! in plain SQL batches (its attempts and review rows with it), then the statistics refreshed.

use anyhow::{ensure, Context};

const BATCH: i64 = 100_000;
/// One session in this many stays in review.
pub const IN_REVIEW_EVERY: i64 = 50;

pub const FIRST_NAMES: [&str; 20] = [
    "Ada", "Grace", "Alan", "Maria", "Jose", "Lucia", "Hugo", "Emma", "Noah", "Olivia", "Liam",
    "Sofia", "Mateo", "Chloe", "Ivan", "Elena", "Omar", "Aisha", "Kenji", "Yuki",
];
pub const LAST_NAMES: [&str; 100] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Garcia",
    "Martinez",
    "Lopez",
    "Gonzalez",
    "Rodriguez",
    "Fernandez",
    "Sanchez",
    "Perez",
    "Gomez",
    "Martin",
    "Jimenez",
    "Ruiz",
    "Hernandez",
    "Diaz",
    "Moreno",
    "Alvarez",
    "Munoz",
    "Romero",
    "Alonso",
    "Gutierrez",
    "Navarro",
    "Torres",
    "Dominguez",
    "Vazquez",
    "Ramos",
    "Gil",
    "Ramirez",
    "Serrano",
    "Blanco",
    "Molina",
    "Morales",
    "Suarez",
    "Ortega",
    "Delgado",
    "Castro",
    "Ortiz",
    "Rubio",
    "Marin",
    "Sanz",
    "Nunez",
    "Iglesias",
    "Medina",
    "Garrido",
    "Cortes",
    "Castillo",
    "Santos",
    "Lozano",
    "Guerrero",
    "Cano",
    "Prieto",
    "Mendez",
    "Cruz",
    "Calvo",
    "Gallego",
    "Vidal",
    "Leon",
    "Marquez",
    "Herrera",
    "Pena",
    "Flores",
    "Cabrera",
    "Campos",
    "Vega",
    "Fuentes",
    "Carrasco",
    "Diez",
    "Caballero",
    "Reyes",
    "Nieto",
    "Aguilar",
    "Pascual",
    "Santana",
    "Herrero",
    "Lorenzo",
    "Montero",
    "Hidalgo",
    "Gimenez",
    "Ibanez",
    "Ferrer",
    "Duran",
    "Santiago",
    "Benitez",
    "Mora",
    "Vicente",
    "Vargas",
    "Arias",
    "Carmona",
    "Crespo",
    "Roman",
    "Pastor",
    "Soto",
    "Saez",
    "Velasco",
    "Moya",
    "Soler",
    "Parra",
    "Esteban",
];

/// `CASE expr WHEN 0 THEN 'values[0]'quote …`: a value of the list by a clone's expression.
pub fn case(expr: &str, values: &[&str], quote: &str) -> String {
    let mut out = format!("CASE {expr}");
    for (i, v) in values.iter().enumerate() {
        out.push_str(&format!(" WHEN {i} THEN '{v}'{quote}"));
    }
    out.push_str(" END");
    out
}

/// A clone's name: one of 20 first names by `g.i`, one of 100 last names by `g.i / 20`.
pub fn name_sql() -> String {
    let first = case(&format!("g.i % {}", FIRST_NAMES.len()), &FIRST_NAMES, "");
    let last = case(
        &format!("(g.i / {}) % {}", FIRST_NAMES.len(), LAST_NAMES.len()),
        &LAST_NAMES,
        "",
    );
    format!("({first}) || ' ' || ({last})")
}

/// The id a clone gets (`table` 1 for sessions, 2 attempts, 3 review rows): a UUID built from the clone's number and the table it is in.
pub fn id_sql(postgres: bool, table: u8, i: &str) -> String {
    if postgres {
        format!("('{table:08x}-0000-4000-8000-' || lpad(to_hex({i}), 12, '0'))::uuid")
    } else {
        format!("printf('{table:08x}-0000-4000-8000-%012x', {i})")
    }
}

pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Db {
    async fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql).map_err(Into::into),
            Db::Postgres(c) => c.batch_execute(sql).await.map_err(Into::into),
        }
    }

    async fn columns(&mut self, table: &str) -> anyhow::Result<Vec<String>> {
        match self {
            Db::Sqlite(c) => {
                let mut st =
                    c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
                let names = st.query_map([], |r| r.get::<_, String>(0))?;
                Ok(names.collect::<Result<_, _>>()?)
            }
            Db::Postgres(c) => Ok(c
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                    &[&table],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect()),
        }
    }
}

/// Clones the template session `count` times (its attempts and review rows with it): one in
/// [`IN_REVIEW_EVERY`] stays in review, the others are approved or declined; names vary
/// ([`name_sql`]).
pub async fn seed(
    db: &mut Db,
    url: &str,
    template: &str,
    number: i64,
    count: i64,
) -> anyhow::Result<()> {
    let status = format!(
        "CASE WHEN g.i % {IN_REVIEW_EVERY} = 0 THEN 'In Review' \
         WHEN g.i % 2 = 0 THEN 'Approved' ELSE 'Declined' END"
    );
    let name = name_sql();
    seed_range(
        db,
        template,
        number,
        1,
        count,
        &|table, col| match (table, col) {
            ("sessions", "status") => Some(status.clone()),
            ("sessions", "full_name") => Some(name.clone()),
            _ => None,
        },
    )
    .await?;
    finish(db, url, template, Some(number + count + 1)).await
}

impl Db {
    pub fn postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The template's id as a literal of this database.
    fn literal(&self, template: &str) -> String {
        if self.postgres() {
            format!("'{template}'::uuid")
        } else {
            format!("'{template}'")
        }
    }
}

/// A column's expression for clone `g.i` in place of the template's value, where one is given.
pub type Vary<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// Clones the template as sessions `from..=to` (numbers `number + i`, ids from `i`), with
/// `vary`'s expressions where it has one; ids, numbers, tokens and `vendor_data`
/// (`customer-<i>`) are always the clone's own.
pub async fn seed_range(
    db: &mut Db,
    template: &str,
    number: i64,
    from: i64,
    count_to: i64,
    vary: Vary<'_>,
) -> anyhow::Result<()> {
    let postgres = db.postgres();
    let tid = db.literal(template);
    let mut plans = Vec::new();
    for (table, tag) in [("sessions", 1u8), ("attempts", 2), ("reviews", 3)] {
        let cols = db.columns(table).await?;
        ensure!(!cols.is_empty(), "no table {table}");
        let exprs: Vec<String> = cols
            .iter()
            .map(|c| match (table, c.as_str()) {
                ("sessions", "id") | (_, "session_id") => id_sql(postgres, 1, "g.i"),
                (_, "id" | "uuid") => id_sql(postgres, tag, "(g.i * 64 + t.seq)"),
                ("sessions", "number") => format!("{number} + g.i"),
                ("sessions", "token") => "'bench' || g.i".to_string(),
                ("sessions", "vendor_data") => "'customer-' || g.i".to_string(),
                (t, c) => vary(t, c).unwrap_or_else(|| format!("t.{c}")),
            })
            .collect();
        let key = if table == "sessions" {
            "id"
        } else {
            "session_id"
        };
        // Sessions have no `seq`: its expression is only used by the other tables.
        let exprs: Vec<String> = exprs
            .into_iter()
            .map(|e| {
                if table == "sessions" {
                    e.replace("t.seq", "0")
                } else {
                    e
                }
            })
            .collect();
        plans.push((table, cols.join(", "), exprs.join(", "), key));
    }
    let mut from = from;
    while from <= count_to {
        let to = (from + BATCH - 1).min(count_to);
        let series = if postgres {
            format!("generate_series({from}, {to}) AS g(i)")
        } else {
            format!(
                "(WITH RECURSIVE s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {to}) SELECT i FROM s) AS g"
            )
        };
        let mut sql = String::from("BEGIN;\n");
        for (table, cols, exprs, key) in &plans {
            sql.push_str(&format!(
                "INSERT INTO {table} ({cols}) SELECT {exprs} FROM {table} t, {series} WHERE t.{key} = {tid};\n"
            ));
        }
        sql.push_str("COMMIT;\n");
        db.exec(&sql)
            .await
            .with_context(|| format!("seeding {from}..{to}"))?;
        eprintln!("  seeded {to} of {count_to} sessions");
        from = to + 1;
    }
    Ok(())
}

/// Moves the application's next session number to `next_number` (past the clones) where given,
/// and refreshes the statistics.
pub async fn finish(
    db: &mut Db,
    url: &str,
    template: &str,
    next_number: Option<i64>,
) -> anyhow::Result<()> {
    if let Some(next) = next_number {
        let tid = db.literal(template);
        db.exec(&format!(
            "UPDATE apps SET next_session_number = {next} WHERE id = (SELECT app_id FROM sessions WHERE id = {tid})"
        ))
        .await?;
        if db.postgres() {
            // PostgreSQL numbers sessions from a sequence per application.
            db.exec(&format!(
                "SELECT setval('session_numbers_' || replace(app_id::text, '-', ''), {}) FROM sessions WHERE id = {tid}",
                next - 1
            ))
            .await?;
        }
    }
    if let Db::Postgres(_) = db {
        // The clones' tally differences folded as a running node does every second (through
        // the store itself), before the vacuum below clears what the fold deleted.
        let store = vouch_store::postgres::PgStore::connect(&vouch_store::postgres::PgOptions {
            statement_timeout: None,
            ..vouch_store::postgres::PgOptions::new(url)
        })
        .await?;
        use vouch_store::Store;
        let folded = store.fold_tallies().await?;
        eprintln!("  folded {folded} tally differences");
    }
    // PostgreSQL: the visibility map too (as autovacuum would keep it), so that counting from
    // an index does not visit every row.
    db.exec(if matches!(db, Db::Postgres(_)) {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    })
    .await
}
