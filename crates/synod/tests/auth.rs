//! Users and passwords on real processes: `-NOAUTH` before `AUTH`,
//! `-WRONGPASS` for a wrong password, `-NOPERM` for a read-only user's
//! writes, an ACL change made through one node enforced on every node once
//! acknowledged, redis-cli's `--user`/`--pass`, and the time limit on
//! authenticating.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{http_get, text, Cluster};

/// How long a connection that never authenticates may stay open: the
/// node's limit (10 s) and some slack.
const AUTHENTICATION_WAIT: Duration = Duration::from_secs(20);

/// A plain RESP connection that shows each reply as its text.
struct Client(BufReader<TcpStream>);

impl Client {
    fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).expect("the node accepts a connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client(BufReader::new(stream))
    }

    /// Sends one command and returns its reply: the first line of a simple
    /// string, error or integer (without `+`, `-` or `:`), a bulk string's
    /// content, `nil`, or `array of N` for an array.
    fn ask(&mut self, words: &[&str]) -> String {
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        self.0.get_mut().write_all(request.as_bytes()).unwrap();
        self.reply()
    }

    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("a reply");
        let line = line.trim_end().to_string();
        match line.as_bytes().first() {
            Some(b'$') if line == "$-1" => "nil".into(),
            Some(b'$') => {
                let length: usize = line[1..].parse().unwrap();
                let mut body = vec![0; length + 2];
                self.0.read_exact(&mut body).unwrap();
                String::from_utf8_lossy(&body[..length]).into_owned()
            }
            Some(b'*') | Some(b'%') => {
                let count: usize = line[1..].parse().unwrap();
                let elements = if line.starts_with('%') {
                    2 * count
                } else {
                    count
                };
                for _ in 0..elements {
                    self.reply();
                }
                format!("array of {count}")
            }
            Some(_) => line[1..].to_string(),
            None => "closed".into(),
        }
    }

    fn authenticated(address: SocketAddr, credentials: &[&str]) -> Client {
        let mut client = Client::connect(address);
        let mut words = vec!["AUTH"];
        words.extend_from_slice(credentials);
        assert_eq!(client.ask(&words), "OK");
        client
    }
}

fn assert_starts(reply: String, prefix: &str) {
    assert!(reply.starts_with(prefix), "expected {prefix}…, got {reply}");
}

#[test]
fn passwords_and_acl_users_are_enforced_on_every_node() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(Duration::from_secs(30));
    let address = |index: usize| cluster.nodes[index].client;

    // synod's CLI given a password for a cluster that asks for none goes on
    // without.
    let endpoints = cluster.client_endpoints().join(",");
    let no_password_needed = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["set", "greeting", "hello", "--endpoints", &endpoints])
        .env("SYNOD_PASSWORD", "unneeded")
        .output()
        .unwrap();
    assert!(
        no_password_needed.status.success(),
        "{}",
        text(&no_password_needed.stderr)
    );

    // Users are made through node 1, then the default user gets a password.
    let mut setup = Client::connect(address(0));
    assert_eq!(
        setup.ask(&[
            "ACL",
            "SETUSER",
            "admin",
            "on",
            ">admin-pw",
            "+@all",
            "allkeys"
        ]),
        "OK"
    );
    assert_eq!(
        setup.ask(&[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            ">reader-pw",
            "+@read",
            "~*"
        ]),
        "OK"
    );
    assert_eq!(setup.ask(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(
        setup.ask(&["CONFIG", "SET", "requirepass", "default-pw"]),
        "OK"
    );
    // From now on every connection that has not authenticated is refused,
    // this one included (it never presented a password).
    assert_eq!(
        setup.ask(&["GET", "greeting"]),
        "NOAUTH Authentication required."
    );
    let stalled = TcpStream::connect(address(2)).unwrap();
    let stalled_since = Instant::now();

    for index in 0..3 {
        let mut anonymous = Client::connect(address(index));
        for words in [
            &["GET", "greeting"][..],
            &["PING"],
            &["SET", "k", "v"],
            &["INFO"],
        ] {
            assert_eq!(
                anonymous.ask(words),
                "NOAUTH Authentication required.",
                "{words:?}"
            );
        }
        assert_starts(
            anonymous.ask(&["HELLO", "3"]),
            "NOAUTH HELLO must be called",
        );
        assert_starts(
            anonymous.ask(&["AUTH", "wrong"]),
            "WRONGPASS invalid username-password pair",
        );
        assert_starts(anonymous.ask(&["AUTH", "reader", "wrong"]), "WRONGPASS");
        assert_starts(anonymous.ask(&["AUTH", "nobody", "reader-pw"]), "WRONGPASS");
        assert_eq!(anonymous.ask(&["AUTH", "default-pw"]), "OK");
        assert_eq!(anonymous.ask(&["GET", "greeting"]), "hello");

        let mut reader = Client::authenticated(address(index), &["reader", "reader-pw"]);
        assert_eq!(reader.ask(&["GET", "greeting"]), "hello");
        assert_eq!(reader.ask(&["ACL", "WHOAMI"]), "reader");
        assert_eq!(
            reader.ask(&["SET", "greeting", "bye"]),
            "NOPERM this user has no permissions to run the 'set' command"
        );
        assert_starts(reader.ask(&["ACL", "LIST"]), "NOPERM");
        assert_starts(reader.ask(&["ACL", "SETUSER", "reader", "+@all"]), "NOPERM");
        assert_starts(reader.ask(&["ACL", "SETUSER", "other", ">pw"]), "NOPERM");
        assert_starts(reader.ask(&["CONFIG", "GET", "save"]), "NOPERM");

        let mut hello = Client::connect(address(index));
        assert_eq!(
            hello.ask(&["HELLO", "3", "AUTH", "reader", "reader-pw"]),
            "array of 7"
        );
        assert_eq!(hello.ask(&["GET", "greeting"]), "hello");
    }

    // A change made through node 1 holds on every node once acknowledged:
    // the reader loses its reads, the admin keeps everything.
    let mut readers: Vec<Client> = (0..3)
        .map(|index| Client::authenticated(address(index), &["reader", "reader-pw"]))
        .collect();
    let mut admin = Client::authenticated(address(0), &["admin", "admin-pw"]);
    assert_eq!(admin.ask(&["ACL", "SETUSER", "reader", "-@read"]), "OK");
    for reader in &mut readers {
        assert_eq!(
            reader.ask(&["GET", "greeting"]),
            "NOPERM this user has no permissions to run the 'get' command"
        );
    }
    assert_eq!(admin.ask(&["ACL", "USERS"]), "array of 3");
    assert_eq!(admin.ask(&["ACL", "DELUSER", "reader"]), "1");
    for reader in &mut readers {
        assert_starts(
            reader.ask(&["GET", "greeting"]),
            "NOPERM the user this connection",
        );
    }
    assert_starts(
        Client::connect(address(1)).ask(&["AUTH", "reader", "reader-pw"]),
        "WRONGPASS",
    );

    // redis-cli authenticates with --user and --pass.
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &address(2).port().to_string()])
        .args(["--user", "admin", "--pass", "admin-pw", "--no-auth-warning"])
        .args(["GET", "greeting"])
        .output();
    match output {
        Ok(output) => assert_eq!(
            text(&output.stdout).trim(),
            "hello",
            "{}",
            text(&output.stderr)
        ),
        Err(error) if std::env::var_os("SYNOD_REQUIRE_CLIENT_LIBRARIES").is_some() => {
            panic!("redis-cli is required: {error}")
        }
        Err(error) => eprintln!("skipping redis-cli: {error}"),
    }

    // synod's own CLI takes a user, and the password from the environment.
    let cli = |password: &str| {
        Command::new(env!("CARGO_BIN_EXE_synod"))
            .args([
                "get",
                "greeting",
                "--endpoints",
                &endpoints,
                "--user",
                "admin",
            ])
            .env("SYNOD_PASSWORD", password)
            .output()
            .unwrap()
    };
    let output = cli("admin-pw");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "hello");
    let output = cli("wrong");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("WRONGPASS"),
        "{}",
        text(&output.stderr)
    );

    // A connection that never authenticates is closed, and counted.
    let mut stalled = stalled;
    stalled.set_read_timeout(Some(AUTHENTICATION_WAIT)).unwrap();
    let mut byte = [0; 1];
    let read = stalled.read(&mut byte);
    let waited = stalled_since.elapsed();
    assert!(
        matches!(read, Ok(0)),
        "the connection is closed, not {read:?}"
    );
    assert!(waited >= Duration::from_secs(9), "closed after {waited:?}");
    eprintln!("a connection that never authenticated was closed after {waited:?}");
    let (_, metrics) = http_get(cluster.nodes[2].admin, "/metrics").unwrap();
    let counted = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(counted("synod_client_authentication_timeouts_total"), 1);
    assert!(counted("synod_client_authentication_failures_total") >= 3);
}
