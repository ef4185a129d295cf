//! `synod bench` and `synod bench-report` as a person runs them: against a
//! real three-node cluster, with the history it records checked, and with
//! the errors bad arguments get. These check that the tool works and that
//! the cluster stays linearizable under its load; they time nothing.

mod common;

use common::{synod, text, Cluster};
use serde_json::Value;

#[test]
fn a_bench_run_measures_every_cell_and_records_a_linearizable_history() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(common::ELECTION_WAIT);
    let endpoints = cluster.client_endpoints();
    let admins: Vec<String> = cluster
        .nodes
        .iter()
        .map(|node| node.admin.to_string())
        .collect();
    let directory = cluster.directory.clone();
    let json = directory.join("results.json");
    let history = directory.join("history.jsonl");
    let target = format!("synod=redis://{}", endpoints.join(","));
    let metrics = format!("synod={}", admins.join(","));
    let output = synod(&[
        "bench",
        "--target",
        &target,
        "--metrics",
        &metrics,
        "--workload",
        "90-10,write",
        "--concurrency",
        "1,8",
        "--keys",
        "50",
        "--duration",
        "700ms",
        "--warm-up",
        "100ms",
        "--distribution",
        "zipf",
        "--json",
        json.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "bench failed: {}",
        text(&output.stderr)
    );
    let table = text(&output.stdout);
    assert!(
        table.contains("OPS/S") && table.contains("FSYNC/S"),
        "{table}"
    );

    let results: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(results.len(), 4, "two workloads at two concurrencies");
    for cell in &results {
        assert_eq!(cell["system"], "synod");
        assert!(cell["operations"].as_u64().unwrap() > 0, "{cell}");
        assert_eq!(cell["errors"], 0, "{cell}");
        assert!(
            cell["latency"]["p50"].as_u64().unwrap() <= cell["latency"]["p99"].as_u64().unwrap()
        );
        assert!(
            cell["latency"]["p99"].as_u64().unwrap() <= cell["latency"]["max"].as_u64().unwrap()
        );
    }
    let writes = results
        .iter()
        .find(|cell| cell["workload"]["mix"]["read_percent"] == 0)
        .unwrap();
    let server = &writes["server"];
    assert!(
        server["fsyncs_per_second"].as_f64().unwrap() > 0.0,
        "{writes}"
    );
    // Every decided slot carries at least one command (the mean comes from
    // floating-point sums, so allow for rounding).
    assert!(
        server["mean_batch_commands"].as_f64().unwrap() > 0.99,
        "{writes}"
    );

    // Every operation, the preload included, is in the history, and the
    // cluster was linearizable under the load.
    let recorded = std::fs::read_to_string(&history).unwrap().lines().count();
    let measured: u64 = results
        .iter()
        .map(|cell| cell["operations"].as_u64().unwrap())
        .sum();
    assert!(
        recorded as u64 >= 50 + measured,
        "{recorded} lines for {measured} operations"
    );
    let check = synod(&["check-history", history.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    // The report turns the results into a table and a plot.
    let report = directory.join("report.md");
    let plot = directory.join("plot.svg");
    let output = synod(&[
        "bench-report",
        json.to_str().unwrap(),
        "--output",
        report.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.contains("| 90-10 | 8 |"), "{markdown}");
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

/// Runs `synod bench` with `arguments` (and `--json -`) against node 0 of
/// a new three-node cluster and returns the one cell it measured.
fn one_cell_on_a_new_cluster(arguments: &[&str]) -> Value {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(common::ELECTION_WAIT);
    let target = format!("redis://{}", cluster.nodes[0].client);
    let mut all = vec!["bench", "--target", &target, "--json", "-"];
    all.extend_from_slice(arguments);
    let output = synod(&all);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let json = &stdout[stdout.find('[').unwrap()..];
    let mut results: Vec<Value> = serde_json::from_str(json).unwrap();
    assert_eq!(results.len(), 1, "one workload at one concurrency");
    results.remove(0)
}

#[test]
fn an_open_loop_run_paces_requests_at_the_asked_rate() {
    let cell = one_cell_on_a_new_cluster(&[
        "--workload",
        "read",
        "--concurrency",
        "4",
        "--keys",
        "10",
        "--rate",
        "200",
        "--duration",
        "1s",
        "--warm-up",
        "0s",
    ]);
    assert_eq!(cell["mode"]["kind"], "open");
    // 200 requests are due in the second; the store keeps up with that,
    // so nearly all complete in it.
    let operations = cell["operations"].as_u64().unwrap();
    assert!(
        (150..=210).contains(&operations),
        "{operations} operations at 200/s for 1 s"
    );
}

#[test]
fn bad_arguments_get_a_clear_error_and_exit_status_2() {
    let cases: [(&[&str], &str); 7] = [
        (&["--target", "127.0.0.1:1"], "expected redis://host:port"),
        (
            &["--target", "redis://127.0.0.1:1", "--workload", "80-20"],
            "unknown workload",
        ),
        (
            &["--target", "redis://127.0.0.1:1", "--concurrency", "0"],
            "positive number",
        ),
        (
            &[
                "--target",
                "redis://127.0.0.1:1",
                "--distribution",
                "zipf:-1",
            ],
            "key distribution",
        ),
        (
            &[
                "--target",
                "redis://127.0.0.1:1",
                "--keys",
                "1000",
                "--key-size",
                "3",
            ],
            "--key-size 3",
        ),
        (
            &[
                "--target",
                "a=redis://127.0.0.1:1",
                "--metrics",
                "b=127.0.0.1:2",
            ],
            "no --target is called",
        ),
        (
            &[
                "--target",
                "redis://127.0.0.1:1",
                "--stale-reads",
                "--history",
                "h.jsonl",
            ],
            "use one or the other",
        ),
    ];
    for (arguments, expected) in cases {
        let mut all = vec!["bench"];
        all.extend_from_slice(arguments);
        let output = synod(&all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{all:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{all:?}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn an_unreachable_target_fails_with_exit_status_1() {
    let closed = common::free_address();
    let target = format!("redis://{closed}");
    let output = synod(&["bench", "--target", &target, "--duration", "1s"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("cannot connect"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn stale_reads_are_asked_for_by_name_and_recorded_in_the_results() {
    let cell = one_cell_on_a_new_cluster(&[
        "--workload",
        "read",
        "--concurrency",
        "4",
        "--keys",
        "10",
        "--stale-reads",
        "--duration",
        "500ms",
        "--warm-up",
        "0s",
    ]);
    assert_eq!(cell["stale_reads"], true);
    assert_eq!(cell["errors"], 0);
    assert!(cell["operations"].as_u64().unwrap() > 0);
}
