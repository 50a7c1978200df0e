//! Test-suite housekeeping (run by scripts/test.sh): drops the `vouch_test_*` schemas earlier
//! test runs left in the PostgreSQL named by the first argument. Exits 1 when the database
//! cannot be reached, which tells the script whether PostgreSQL tests can run.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(vouch_store::testing::postgres_base_url);
    match vouch_store::testing::drop_test_schemas(&url).await {
        Ok(n) => println!("dropped {n} test schema(s) in {url}"),
        Err(e) => {
            eprintln!("cannot reach PostgreSQL at {url}: {e}");
            std::process::exit(1);
        }
    }
}
