//! Storage faults of the embedded store, through the binary: a damaged, truncated or
//! empty database file is refused at start by name (never a panic, never a silent empty
//! start); a full disk makes writes fail with 503 and `/ready` answer 503, and once
//! there is room again writes are stored without a restart.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::*;

const FILE: &str = "leadscore.redb";

/// `serve` on `data`: it must refuse to start; its stderr.
fn refused(pack: &Path, data: &Path) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--pack"])
        .arg(pack)
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "started on a bad file:\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_truncated_or_empty_database_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let good = dir.path().join("good");
    {
        let mut server = Server::start(&pack, &good, &[]);
        let http = client();
        for i in 0..50 {
            let lead = json!({"title": "VP", "region": "NY", "notes": "x".repeat(500)});
            let (status, _) = call(http.put(server.url(&format!("/v1/leads/d{i}"))).json(&lead)).await;
            assert_eq!(status, 200);
        }
        assert!(server.terminate(Duration::from_secs(10)).success());
    }
    let bytes = std::fs::read(good.join(FILE)).unwrap();
    assert!(bytes.len() > 8192, "{} bytes", bytes.len());
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty", Vec::new(), "is empty (0 bytes)"),
        ("short", bytes[..100].to_vec(), "is truncated (100 bytes"),
        (
            "zeroed",
            {
                let mut b = bytes.clone();
                b[..4096].fill(0);
                b
            },
            "is not a redb database",
        ),
        ("truncated", bytes[..bytes.len() / 2].to_vec(), "is damaged"),
    ];
    for (name, content, expected) in cases {
        let data = dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let file = data.join(FILE);
        std::fs::write(&file, &content).unwrap();
        let stderr = refused(&pack, &data);
        assert!(
            stderr.contains(&format!("database {} {expected}", file.display())),
            "{name}: {stderr}"
        );
        // Nothing was written over it.
        assert_eq!(std::fs::read(&file).unwrap(), content, "{name}: the file was changed");
    }
}

/// A data folder on a small tmpfs of its own (a private mount namespace: `unshare
/// --mount`, with `--map-root-user` when not root), with a ballast file that leaves
/// little room; the ballast is removed when `free` appears. The server is `exec`ed last,
/// so killing the child kills it.
fn server_on_small_disk(pack: &Path, mount: &Path, free: &Path) -> Server {
    std::fs::create_dir_all(mount).unwrap();
    let script = r#"set -e
mount -t tmpfs -o size=24m tmpfs "$1"
mkdir "$1/data"
dd if=/dev/zero of="$1/ballast" bs=1M count=20 status=none
( for _ in $(seq 1200); do if [ -e "$2" ]; then rm -f "$1/ballast"; exit 0; fi; sleep 0.1; done ) &
shift 2
exec "$@""#;
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut command = Command::new("unshare");
    command.arg("--mount");
    if !root {
        command.arg("--map-root-user");
    }
    command
        .args(["sh", "-c", script, "sh"])
        .arg(mount)
        .arg(free)
        .arg(BIN)
        .args(["serve", "--pack"])
        .arg(pack)
        .arg("--data")
        .arg(mount.join("data"))
        .args(["--listen", "127.0.0.1:0"]);
    Server::launch(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_writes_are_stored_again_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let free = dir.path().join("free");
    let server = server_on_small_disk(&pack, &dir.path().join("disk"), &free);
    let http = client();
    let (status, _) = call(http.get(server.url("/ready"))).await;
    assert_eq!(status, 200);

    // Fill the disk: events of ~8 KB until the store says no three times in a row (after
    // the first refusal the store opens the file again, and the pages redb freed inside
    // it may take a few more).
    let padding = "p".repeat(8_000);
    let mut acked = Vec::new();
    let mut refused = None;
    let mut in_a_row = 0;
    for i in 0..3_000 {
        let event = json!({"type": "page_view", "path": "/blog/x", "id": format!("e{i}"), "padding": padding});
        let (status, body) = call(
            http.post(server.url(&format!("/v1/leads/f{}/events", i % 20)))
                .json(&event),
        )
        .await;
        match status {
            200 => {
                acked.push((i % 20, format!("e{i}")));
                in_a_row = 0;
            }
            503 => {
                refused = Some(body);
                in_a_row += 1;
                if in_a_row == 3 {
                    break;
                }
            }
            other => panic!("{other}: {body}"),
        }
    }
    let refused = refused.expect("the disk never filled");
    assert_eq!(refused["kind"], "unavailable", "{refused}");
    assert!(!acked.is_empty());
    let (status, ready) = call(http.get(server.url("/ready"))).await;
    assert_eq!(
        status,
        503,
        "{ready} after {} events; refused: {refused}\n{}",
        acked.len(),
        server.log()
    );
    let (status, health) = call(http.get(server.url("/health"))).await;
    assert_eq!(status, 200, "{health}");

    // Room again: /ready recovers and writes are stored, without a restart.
    std::fs::write(&free, "").unwrap();
    until(Duration::from_secs(20), "/ready to answer 200", || async {
        (call(client().get(server.url("/ready"))).await.0 == 200).then_some(())
    })
    .await;
    let event = json!({"type": "page_view", "path": "/pricing", "id": "after"});
    let (status, body) = call(http.post(server.url("/v1/leads/f0/events")).json(&event)).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    acked.push((0, "after".into()));
    // Every acknowledged event is there.
    for lead in 0..20 {
        let (_, stored) = export(&http, &server, &format!("f{lead}")).await;
        let ids: BTreeSet<String> = stored["events"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["id"].as_str().unwrap().to_string())
            .collect();
        for (l, id) in &acked {
            if *l == lead {
                assert!(ids.contains(id), "f{lead}: {id} acknowledged but lost");
            }
        }
    }
}
