//! `leadscore lsp`: the real binary over stdio, JSON-RPC with `Content-Length` framing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any one answer may take.
const WAIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of an example pack in a temporary folder.
fn pack_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&repo().join("rules").join(name), &dir);
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_str().unwrap().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A running `leadscore lsp` and the messages it sent.
struct Client {
    child: Child,
    stdin: ChildStdin,
    inbox: Receiver<Value>,
    /// Notifications and server requests read while waiting for something else.
    seen: Vec<Value>,
    next_id: i64,
    /// Replaced by `$TMP` in snapshots.
    tmp: PathBuf,
}

impl Client {
    fn start(tmp: &Path) -> Client {
        Client::start_with(tmp, "50")
    }

    fn start_with(tmp: &Path, debounce: &str) -> Client {
        let plugins = repo().join("plugins");
        let args = ["lsp", "--debounce", debounce, "--plugins", plugins.to_str().unwrap()];
        Client::spawn(tmp, &repo(), &args)
    }

    /// Starts `leadscore ARGS` in `cwd`.
    fn spawn(tmp: &Path, cwd: &Path, args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, inbox) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_frame(&mut reader) {
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            inbox,
            seen: Vec::new(),
            next_id: 0,
            tmp: tmp.to_path_buf(),
        }
    }

    /// Starts the server and initializes it.
    fn initialized(tmp: &Path) -> Client {
        let mut client = Client::start(tmp);
        let caps = json!({"workspace": {"codeLens": {"refreshSupport": true}}});
        let init = client.request(
            "initialize",
            json!({"capabilities": caps, "processId": null, "rootUri": null}),
        );
        assert!(init["result"]["capabilities"]["hoverProvider"] == json!(true), "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response (the whole message).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait(|m| m["id"] == json!(id) && m.get("method").is_none())
    }

    /// The result of a request, which must succeed.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The first message (seen before, or still to come) that `matches`.
    fn wait(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&matches) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(m) if matches(&m) => return m,
                Ok(m) => self.seen.push(m),
                Err(RecvTimeoutError::Timeout) => panic!("no matching message in {WAIT:?}; seen: {:?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => panic!("the server exited; seen: {:?}", self.seen),
            }
        }
    }

    /// The next diagnostics published for a file.
    fn diagnostics(&mut self, path: &Path) -> Value {
        let uri = uri(path);
        let m = self.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri);
        m["params"]["diagnostics"].clone()
    }

    fn open(&mut self, path: &Path, text: &str) {
        let doc = json!({"uri": uri(path), "languageId": "leadscore", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({"textDocument": doc}));
    }

    fn change(&mut self, path: &Path, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri(path), "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    fn at(&self, path: &Path, line: u32, character: u32) -> Value {
        json!({"textDocument": {"uri": uri(path)}, "position": {"line": line, "character": character}})
    }

    /// A value as JSON text, with the temporary folder's path and URI replaced.
    fn show(&self, value: &Value) -> String {
        self.normalised(&serde_json::to_string_pretty(value).unwrap())
    }

    /// A text with the temporary folder's path and URI replaced.
    fn normalised(&self, text: &str) -> String {
        let tmp = self.tmp.to_str().unwrap();
        text.replace(&uri(&self.tmp), "file://$TMP")
            .replace(tmp, "$TMP")
            .replace(&uri(&repo()), "file://$REPO")
            .replace(repo().to_str().unwrap(), "$REPO")
    }

    /// Shuts down cleanly; the exit status must be success.
    fn shutdown(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_frame(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The position of the `shift`th UTF-16 unit after the first `needle` in a file.
fn locate(path: &Path, needle: &str, shift: u32) -> (u32, u32) {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in {}", path.display()));
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count() as u32;
    (line, text[line_start..at].encode_utf16().count() as u32 + shift)
}

/// Diagnostics of a file as `line:col message (help)` lines.
fn lines_of(diagnostics: &Value) -> String {
    diagnostics
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let start = &d["range"]["start"];
            let end = &d["range"]["end"];
            let help = d["relatedInformation"][0]["message"].as_str().unwrap_or("");
            format!(
                "{}:{}-{}:{} {} {help}",
                start["line"],
                start["character"],
                end["line"],
                end["character"],
                d["message"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn diagnostics_on_open_and_after_an_edit() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    // A typo, after a multi-byte character: columns count UTF-16 units.
    let broken = text
        .replace("=> +40 intent", "=> +40 intnet")
        .replace("rule \"Demo request\":", "rule \"Démo 😀\":")
        .replace("let icp    = company.size >= 50", "let icp    = company.size >= ");
    client.open(&main, &broken);
    let diagnostics = client.diagnostics(&main);
    insta::assert_snapshot!("lsp_diagnostics_open", client.show(&diagnostics));
    // The other file of the pack is published too, clean.
    assert_eq!(client.diagnostics(&dir.join("video.rules")), json!([]));

    let fixed = broken.replace("company.size >= ", "company.size >= 50");
    client.change(&main, 2, &fixed);
    let diagnostics = client.diagnostics(&main);
    // Columns count UTF-16 units: `é` is one, `😀` two.
    let typo_line = fixed.lines().nth(11).unwrap();
    let column = typo_line[..typo_line.find("intnet").unwrap()].encode_utf16().count();
    assert_eq!(column, typo_line.find("intnet").unwrap() - 3, "é is 2 bytes, 😀 is 4");
    assert_eq!(
        lines_of(&diagnostics),
        format!(
            "11:{column}-11:{} unknown dimension `intnet` help: did you mean `intent`?",
            column + 6
        )
    );
    client.change(&main, 3, &text);
    assert_eq!(client.diagnostics(&main), json!([]));
    client.shutdown();
}

#[test]
fn a_burst_of_changes_is_checked_once_after_the_debounce() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    client.open(&main, &text);
    assert_eq!(client.diagnostics(&main), json!([]));
    // Five edits in one write, each with its own typo: only the last is ever checked.
    let mut burst = Vec::new();
    for (version, typo) in ["fti", "fitt", "ft", "fiit", "fot"].iter().enumerate() {
        let changed = text.replace("=> +15 fit", &format!("=> +15 {typo}"));
        let body = json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri(&main), "version": version + 2}, "contentChanges": [{"text": changed}]},
        })
        .to_string();
        burst.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }
    client.raw(&burst);
    let diagnostics = client.diagnostics(&main);
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics}");
    assert_eq!(
        diagnostics[0]["message"], "unknown dimension `fot`",
        "the first publish is of the last edit"
    );
    client.shutdown();
}

#[test]
fn a_file_sees_names_declared_in_the_other_files_of_its_pack() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let video = dir.join("video.rules");
    let main = dir.join("main.rules");
    client.open(&video, &std::fs::read_to_string(&video).unwrap());
    assert_eq!(
        client.diagnostics(&video),
        json!([]),
        "`intent` is declared in main.rules"
    );
    assert_eq!(client.diagnostics(&main), json!([]));

    // main.rules's unsaved buffer drops the declaration: video.rules's rule is now wrong.
    let text = std::fs::read_to_string(&main).unwrap();
    client.open(&main, &text.replace("cap intent at 80\n", "\n"));
    let main_diagnostics = client.diagnostics(&main);
    let video_diagnostics = client.diagnostics(&video);
    insta::assert_snapshot!(
        "lsp_multi_file",
        format!(
            "main.rules:\n{}\n\nvideo.rules:\n{}",
            lines_of(&main_diagnostics),
            lines_of(&video_diagnostics)
        )
    );
    // Closing the buffer goes back to the file on disk.
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri(&main)}}));
    assert_eq!(client.diagnostics(&video), json!([]));
    client.shutdown();
}

#[test]
fn an_error_in_a_plugin_script_is_published_for_the_script() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("broken");
    copy_dir(&repo().join("tests/fixtures/plugins/broken"), &dir);
    let mut client = Client::initialized(tmp.path());
    let rules = dir.join("broken.rules");
    client.open(&rules, &std::fs::read_to_string(&rules).unwrap());
    assert_eq!(client.diagnostics(&rules), json!([]), "the rules themselves are fine");
    let script = client.diagnostics(&dir.join("plugins/broken.rhai"));
    assert_eq!(
        lines_of(&script),
        "3:0-3:1 plugin `broken` does not parse: Expecting ',' to separate the arguments to function call 'contains' "
    );
    // Fixed on disk, and the editor says so: the script's diagnostics are cleared.
    std::fs::write(
        dir.join("plugins/broken.rhai"),
        "fn looks_good(title) {\n    title.contains(\"good\")\n}\n",
    )
    .unwrap();
    let changes = json!({"changes": [{"uri": uri(&dir.join("plugins/broken.rhai")), "type": 2}]});
    client.notify("workspace/didChangeWatchedFiles", changes);
    assert_eq!(client.diagnostics(&dir.join("plugins/broken.rhai")), json!([]));
    client.shutdown();
}

#[test]
fn hover_explains_rules_lets_dimensions_verbs_fields_and_functions() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let (_, agency) = {
        let target = tmp.path().join("agency");
        copy_dir(&repo().join("rules/agency"), &target);
        ((), target)
    };
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    client.open(&main, &std::fs::read_to_string(&main).unwrap());
    let agency_rules = agency.join("agency.rules");
    client.open(&agency_rules, &std::fs::read_to_string(&agency_rules).unwrap());
    let plugins_rules = agency.join("plugins.rules");
    client.open(&plugins_rules, &std::fs::read_to_string(&plugins_rules).unwrap());

    let video = dir.join("video.rules");
    let mut out = String::new();
    let places: [(&Path, &str, u32, &str); 14] = [
        (&main, "Senior title", 1, "rule name"),
        (&main, "at least 3 times", 1, "rule, on its condition"),
        (&main, ":    senior", 7, "let use"),
        (&main, "let senior", 5, "let definition"),
        (&main, "+15 fit", 4, "dimension in an action"),
        (&main, "cap fit", 5, "dimension declaration"),
        (&main, "submitted \"demo", 2, "verb"),
        (&main, "company.size >= 50", 3, "field with sample values"),
        (&main, "region in", 2, "field in a route"),
        (&video, "did video_play", 1, "did"),
        (&video, "percent >=", 2, "event property in `where`"),
        (&agency_rules, "is_free_email(", 3, "plugin function"),
        (&plugins_rules, "\"seniority\"", 3, "plugin"),
        (
            &plugins_rules,
            "seniority ==",
            3,
            "field set by a plugin hook, not in sample leads",
        ),
    ];
    for (path, needle, shift, what) in places {
        let (line, character) = locate(path, needle, shift);
        let hover = client.result("textDocument/hover", client.at(path, line, character));
        let value = hover["contents"]["value"].as_str().unwrap_or("(no hover)");
        out += &format!("## {what} ({needle:?})\n{value}\n\n");
    }
    insta::assert_snapshot!("lsp_hover", client.normalised(&out));
    client.shutdown();
}

#[test]
fn definition_and_references_of_lets_dimensions_plugins_and_functions() {
    let tmp = tempfile::tempdir().unwrap();
    let agency = tmp.path().join("agency");
    copy_dir(&repo().join("rules/agency"), &agency);
    let mut client = Client::initialized(tmp.path());
    let rules = agency.join("agency.rules");
    client.open(&rules, &std::fs::read_to_string(&rules).unwrap());
    let plugins_rules = agency.join("plugins.rules");

    let mut out = String::new();
    let places: [(&Path, &str, u32, &str); 4] = [
        (&rules, ":        free_mail", 11, "let use → its definition"),
        (&rules, "+20 fit", 5, "dimension → its declaration"),
        (&rules, "is_free_email(", 2, "plugin function → its fn"),
        (&plugins_rules, "\"seniority\"", 2, "plugin → its script"),
    ];
    for (path, needle, shift, what) in places {
        let (line, character) = locate(path, needle, shift);
        let definition = client.result("textDocument/definition", client.at(path, line, character));
        out += &format!("## definition: {what}\n{}\n\n", client.show(&definition));
    }
    let (line, character) = locate(&rules, "dimension fit", 11);
    let mut params = client.at(&rules, line, character);
    params["context"] = json!({"includeDeclaration": true});
    let references = client.result("textDocument/references", params);
    out += &format!("## references of dimension fit\n{}\n", client.show(&references));
    insta::assert_snapshot!("lsp_navigation", out);
    client.shutdown();
}

#[test]
fn completion_offers_what_fits_where_the_cursor_is() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    let typed = format!("{text}title ~ CEO => +5 \nrule \"x\": did \nplugin \"\ndid video_play where (\n");
    client.open(&main, &typed);
    let lines = typed.lines().count() as u32;
    let labels = |client: &mut Client, line: u32, character: u32| -> String {
        let items = client.result("textDocument/completion", client.at(&main, line, character));
        let mut labels: Vec<String> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| format!("{} ({})", i["label"].as_str().unwrap(), i["kind"]))
            .collect();
        labels.sort();
        labels.join(", ")
    };
    let after_points = labels(&mut client, lines - 4, 18);
    let after_did = labels(&mut client, lines - 3, 14);
    let plugin = labels(&mut client, lines - 2, 8);
    let property = labels(&mut client, lines - 1, 22);
    let statement_start = labels(&mut client, 4, 0);
    let in_condition = labels(&mut client, 8, 8);
    insta::assert_snapshot!(
        "lsp_completion",
        format!(
            "after points:\n{after_points}\n\nafter did:\n{after_did}\n\nplugin name:\n{plugin}\n\nin where:\n{property}\n\nstatement start:\n{statement_start}\n\nin a condition:\n{in_condition}\n"
        )
    );
    client.shutdown();
}

#[test]
fn formatting_uses_the_formatter_and_a_syntax_error_is_an_error_response() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.rules");
    let text = "threshold   10\nrule \"Demo\": submitted demo =>+40\nrule \"VP title\":title ~ VP  =>  +15 # fit\n";
    std::fs::write(&file, text).unwrap();
    let mut client = Client::initialized(tmp.path());
    client.open(&file, text);
    let params = json!({"textDocument": {"uri": uri(&file)}, "options": {"tabSize": 4, "insertSpaces": true}});
    let edits = client.result("textDocument/formatting", params.clone());
    insta::assert_snapshot!("lsp_formatting", client.show(&edits));
    assert_eq!(edits[0]["newText"], leadscore::format(text).unwrap());

    client.change(&file, 2, &leadscore::format(text).unwrap());
    assert_eq!(
        client.result("textDocument/formatting", params.clone()),
        json!([]),
        "already formatted"
    );

    client.change(&file, 3, "title ~ => +1\n");
    let response = client.request("textDocument/formatting", params);
    assert_eq!(response["error"]["code"], -32803, "{response}");
    insta::assert_snapshot!("lsp_formatting_error", response["error"]["message"].as_str().unwrap());
    client.shutdown();
}

#[test]
fn a_code_action_applies_the_did_you_mean() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("=> +40 intent", "=> +40 intnet");
    client.open(&main, &text);
    let diagnostics = client.diagnostics(&main);
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics}");
    let range = diagnostics[0]["range"].clone();
    let params = json!({
        "textDocument": {"uri": uri(&main)},
        "range": range,
        "context": {"diagnostics": diagnostics},
    });
    let actions = client.result("textDocument/codeAction", params);
    insta::assert_snapshot!("lsp_code_action", client.show(&actions));

    // Applying the edit gives back the pack as it was.
    let edit = &actions[0]["edit"]["changes"][uri(&main)][0];
    let line = edit["range"]["start"]["line"].as_u64().unwrap() as usize;
    let (from, to) = (
        edit["range"]["start"]["character"].as_u64().unwrap() as usize,
        edit["range"]["end"]["character"].as_u64().unwrap() as usize,
    );
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[line].replace_range(from..to, edit["newText"].as_str().unwrap());
    let applied = lines.join("\n") + "\n";
    assert_eq!(applied, std::fs::read_to_string(&main).unwrap());
    client.change(&main, 2, &applied);
    assert_eq!(client.diagnostics(&main), json!([]));
    client.shutdown();
}

#[test]
fn symbols_and_the_code_lens_updated_on_save() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    client.open(&main, &text);
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&main)}}),
    );
    let outline: Vec<String> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} — {}",
                s["kind"],
                s["name"].as_str().unwrap(),
                s["detail"].as_str().unwrap()
            )
        })
        .collect();
    insta::assert_snapshot!("lsp_symbols", outline.join("\n"));

    let lens = |client: &mut Client| -> String {
        let lenses = client.result("textDocument/codeLens", json!({"textDocument": {"uri": uri(&main)}}));
        lenses[0]["command"]["title"].as_str().unwrap().to_string()
    };
    assert_eq!(lens(&mut client), "2 of 6 sample leads are MQLs (as of 2026-03-01)");
    // An unsaved edit does not change the lens; saving it does, and asks for a refresh.
    let lower = text.replace("threshold 75", "threshold 1");
    client.change(&main, 2, &lower);
    assert_eq!(lens(&mut client), "2 of 6 sample leads are MQLs (as of 2026-03-01)");
    std::fs::write(&main, &lower).unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri(&main)}}));
    let refresh = client.wait(|m| m["method"] == "workspace/codeLens/refresh");
    assert!(refresh.get("id").is_some(), "a request: {refresh}");
    assert_eq!(lens(&mut client), "3 of 6 sample leads are MQLs (as of 2026-03-01)");
    client.shutdown();
}

#[test]
fn garbage_and_half_typed_text_never_stop_the_server() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::start(tmp.path());
    // Before initialize: an error, not a crash.
    let early = client.request("textDocument/hover", json!({}));
    assert_eq!(early["error"]["code"], -32002, "{early}");
    drop(client);
    let mut client = Client::initialized(tmp.path());

    // Garbage on the wire: a body that is not JSON, a line that is not a header, bytes that
    // are not UTF-8, a message that is not JSON-RPC.
    client.raw(b"Content-Length: 9\r\n\r\n{not json");
    let parse_error = client.wait(|m| m["error"]["code"] == -32700);
    assert_eq!(parse_error["id"], Value::Null);
    client.raw(b"this is no header\r\n\xff\xfe\r\n");
    client.send(&json!({"jsonrpc": "2.0", "id": "x"}));
    client.wait(|m| m["error"]["code"] == -32700);
    let unknown = client.request("leadscore/nothing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    let bad_params = client.request("textDocument/hover", json!({"textDocument": 5}));
    assert_eq!(bad_params["error"]["code"], -32602);
    client.notify("textDocument/didOpen", json!({"nonsense": true}));

    // Half-typed text: every prefix of a rule file, with requests at its end.
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    client.open(&main, "");
    let cuts: Vec<usize> = (0..text.len())
        .step_by(37)
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    for (version, &cut) in cuts.iter().enumerate() {
        let prefix = format!("{}\u{0}é`\"/(", &text[..cut]);
        client.change(&main, version as i32 + 2, &prefix);
        let line = prefix.lines().count().saturating_sub(1) as u32;
        for method in [
            "textDocument/hover",
            "textDocument/completion",
            "textDocument/definition",
        ] {
            let response = client.request(method, client.at(&main, line, 3));
            assert!(response.get("result").is_some(), "{method} at cut {cut}: {response}");
        }
        let response = client.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri(&main)}}),
        );
        assert!(response.get("result").is_some(), "{response}");
    }
    // Positions past the end of the text and the line.
    let far = client.request("textDocument/hover", client.at(&main, 10_000, 10_000));
    assert!(far.get("result").is_some(), "{far}");

    // Still answering, with the whole text back.
    client.change(&main, 1000, &text);
    let hover = client.result("textDocument/hover", client.at(&main, 9, 10));
    assert!(
        hover["contents"]["value"].as_str().unwrap().contains("Senior title"),
        "{hover}"
    );
    client.shutdown();
}

/// The time from an edit to its diagnostics (debounce 0), for an example pack and a
/// generated pack of 2,000 rules; prints medians for BENCHMARKS.md.
/// `cargo test --all-features --test it -- --ignored lsp_latency --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn lsp_latency() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let big = tmp.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut text = String::from("threshold 50\ncap fit at 40\ndimension intent\n");
    for i in 0..2000 {
        text += &format!(
            "rule \"R{i}\": title ~ VP{i} and visited /p/{i} within 30d => +{} intent\n",
            i % 7 + 1
        );
    }
    std::fs::write(big.join("big.rules"), &text).unwrap();
    // debounce 0: measure checking and publishing, not waiting.
    let mut client = {
        let mut c = Client::start_with(tmp.path(), "0");
        let init = c.request(
            "initialize",
            json!({"capabilities": {}, "processId": null, "rootUri": null}),
        );
        assert!(init.get("result").is_some());
        c.notify("initialized", json!({}));
        c
    };
    for (name, path) in [
        ("b2b-saas", dir.join("main.rules")),
        ("2,000 rules", big.join("big.rules")),
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        client.open(&path, &text);
        client.diagnostics(&path);
        let mut times = Vec::new();
        for round in 0..21 {
            let typo = if round % 2 == 0 { "intnet" } else { "intent" };
            let edited = text.replacen("=> +1 intent", &format!("=> +1 {typo}"), 1).replacen(
                "=> +40 intent",
                &format!("=> +40 {typo}"),
                1,
            );
            let start = Instant::now();
            client.change(&path, round + 2, &edited);
            client.diagnostics(&path);
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "{name}: median {:?}, max {:?} over {} edits",
            times[times.len() / 2],
            times[times.len() - 1],
            times.len()
        );
    }
    client.shutdown();
}

/// Waits for the server to exit and gives its exit code.
fn exit_code(client: &mut Client) -> i32 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = client.child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_lifecycle_follows_the_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let mut client = Client::initialized(tmp.path());
    let again = client.request("initialize", json!({"capabilities": {}}));
    assert_eq!(again["error"]["code"], -32600, "{again}");
    assert_eq!(client.request("shutdown", Value::Null)["result"], Value::Null);
    let after = client.request("initialize", json!({"capabilities": {}}));
    assert_eq!(after["error"]["code"], -32600, "{after}");
    client.notify("exit", Value::Null);
    assert_eq!(exit_code(&mut client), 0);

    let mut abrupt = Client::initialized(tmp.path());
    abrupt.notify("exit", Value::Null);
    assert_eq!(exit_code(&mut abrupt), 1, "exit without shutdown");
}

#[test]
fn requests_with_invalid_ids_get_an_error_response() {
    let tmp = tempfile::tempdir().unwrap();
    let mut client = Client::initialized(tmp.path());
    for id in [
        json!({"a": 1}),
        json!(1.5),
        json!(true),
        Value::Null,
        json!(18446744073709551616u128 as f64),
        json!(u64::MAX),
    ] {
        client.send(&json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": {}}));
        let response = client.wait(|m| m["error"]["code"] == -32600);
        assert_eq!(response["id"], Value::Null, "{response}");
    }
    client.shutdown();
}

#[test]
fn formatting_reads_only_open_documents_and_their_packs() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "password = hunter2\n").unwrap();
    let mut client = Client::initialized(tmp.path());
    let params =
        |path: &Path| json!({"textDocument": {"uri": uri(path)}, "options": {"tabSize": 4, "insertSpaces": true}});
    for path in [secret.as_path(), Path::new("/etc/passwd"), &dir.join("video.rules")] {
        let response = client.request("textDocument/formatting", params(path));
        assert!(response["error"].is_object(), "{response}");
        assert!(
            !response.to_string().contains("hunter2") && !response.to_string().contains("root:"),
            "{response}"
        );
    }
    let main = dir.join("main.rules");
    client.open(&main, &std::fs::read_to_string(&main).unwrap());
    client.result("textDocument/formatting", params(&main));
    client.result("textDocument/formatting", params(&dir.join("video.rules")));
    client.shutdown();
}

#[test]
fn a_fifo_rule_file_gets_a_diagnostic() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let pipe = dir.join("pipe.rules");
    assert!(Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    client.open(&main, &std::fs::read_to_string(&main).unwrap());
    let diagnostics = client.diagnostics(&pipe);
    assert!(diagnostics.to_string().contains("not a regular file"), "{diagnostics}");
    client.shutdown();
}

#[test]
fn plugins_are_found_from_the_pack_not_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    copy_dir(&repo().join("rules/agency"), &project.join("rules/agency"));
    copy_dir(&repo().join("plugins"), &project.join("plugins"));
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut client = Client::spawn(tmp.path(), &elsewhere, &["lsp", "--debounce", "50"]);
    let init = client.request(
        "initialize",
        json!({"capabilities": {}, "processId": null, "rootUri": null}),
    );
    assert!(init.get("error").is_none(), "{init}");
    client.notify("initialized", json!({}));
    let rules = project.join("rules/agency/agency.rules");
    client.open(&rules, &std::fs::read_to_string(&rules).unwrap());
    let diagnostics = client.diagnostics(&rules);
    assert_eq!(diagnostics, json!([]), "{diagnostics}");
    client.shutdown();
}

/// A pack whose plugin loops on every sample lead until its time budget (250 ms of CPU
/// per lead) runs out: scoring its 4 sample leads for the code lens takes a second of CPU
/// or more, while a hover takes milliseconds.
fn slow_lens_pack(tmp: &Path) -> PathBuf {
    let dir = tmp.join("slow");
    copy_dir(
        &repo().join("tests/fixtures/plugins/sandbox/plugins"),
        &dir.join("plugins"),
    );
    std::fs::write(
        dir.join("slow.rules"),
        "plugin \"trap\"\nlimit time_ms 250\nlimit operations 100000000\nthreshold 10\nrule \"Checked\": checked == true => +10\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("leads")).unwrap();
    for i in 0..4 {
        std::fs::write(
            dir.join(format!("leads/loop-{i}.json")),
            format!(r#"{{"id": "l{i}", "trap": "loop"}}"#),
        )
        .unwrap();
    }
    dir.join("slow.rules")
}

/// A server started in `tmp` (plugins found from the pack) with `rules` open.
fn slow_client(tmp: &Path, rules: &Path) -> Client {
    let mut client = Client::spawn(tmp, tmp, &["lsp", "--debounce", "50"]);
    let init = client.request(
        "initialize",
        json!({"capabilities": {"workspace": {"codeLens": {"refreshSupport": true}}}, "processId": null}),
    );
    assert!(init.get("error").is_none(), "{init}");
    client.notify("initialized", json!({}));
    client.open(rules, &std::fs::read_to_string(rules).unwrap());
    assert_eq!(client.diagnostics(rules), json!([]));
    client
}

/// Sends a request without waiting for its answer; returns its id.
fn send_request(client: &mut Client, method: &str, params: Value) -> i64 {
    client.next_id += 1;
    let id = client.next_id;
    client.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    id
}

#[test]
fn a_slow_code_lens_holds_up_no_other_request() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = slow_lens_pack(tmp.path());
    let mut client = slow_client(tmp.path(), &rules);
    let lens = send_request(
        &mut client,
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&rules)}}),
    );
    let started = Instant::now();
    let hover = client.result("textDocument/hover", client.at(&rules, 4, 8));
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&rules)}}),
    );
    let answered = started.elapsed();
    assert!(hover["contents"]["value"].is_string(), "{hover}");
    assert_eq!(symbols.as_array().map(Vec::len), Some(3), "{symbols}");
    assert!(
        !client.seen.iter().any(|m| m["id"] == json!(lens)),
        "the lens (1 s of plugin time) was answered before requests sent after it ({answered:?})"
    );
    let lens = client.wait(|m| m["id"] == json!(lens));
    assert_eq!(
        lens["result"][0]["command"]["title"], "0 of 4 sample leads are MQLs, 4 could not be scored (as of 2026-03-01)",
        "{lens}"
    );
    client.shutdown();
}

#[test]
fn a_cancelled_code_lens_is_answered_at_once_and_its_result_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = slow_lens_pack(tmp.path());
    let mut client = slow_client(tmp.path(), &rules);
    let params = json!({"textDocument": {"uri": uri(&rules)}});
    let first = send_request(&mut client, "textDocument/codeLens", params.clone());
    client.notify("$/cancelRequest", json!({"id": first}));
    let cancelled = client.wait(|m| m["id"] == json!(first));
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    // Cancelling what was answered already, or was never asked, changes nothing.
    client.notify("$/cancelRequest", json!({"id": first}));
    client.notify("$/cancelRequest", json!({"id": "never"}));
    // The next lens is scored in full and answered once.
    let second = client.result("textDocument/codeLens", params);
    assert!(
        second[0]["command"]["title"].as_str().unwrap().starts_with("0 of 4"),
        "{second}"
    );
    assert!(
        !client.seen.iter().any(|m| m["id"] == json!(first)),
        "a second answer to the cancelled request: {:?}",
        client.seen
    );
    client.shutdown();
}

#[test]
fn a_lens_scored_for_a_pack_saved_since_is_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = slow_lens_pack(tmp.path());
    let mut client = slow_client(tmp.path(), &rules);
    let params = json!({"textDocument": {"uri": uri(&rules)}});
    let first = send_request(&mut client, "textDocument/codeLens", params.clone());
    // Saved while the sample leads are scored (whichever version the worker read, it takes
    // a second of plugin time, and the save is handled in the meantime).
    let saved = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("threshold 10", "threshold 5");
    std::fs::write(&rules, &saved).unwrap();
    client.change(&rules, 2, &saved);
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri(&rules)}}));
    let stale = client.wait(|m| m["id"] == json!(first));
    assert_eq!(stale["error"]["code"], -32801, "{stale}");
    let fresh = client.result("textDocument/codeLens", params);
    assert_eq!(
        fresh[0]["command"]["title"], "0 of 4 sample leads are MQLs, 4 could not be scored (as of 2026-03-01)",
        "{fresh}"
    );
    client.shutdown();
}

#[test]
fn a_burst_of_changes_to_a_large_document_ends_in_its_last_version() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::start_with(tmp.path(), "0");
    let init = client.request("initialize", json!({"capabilities": {}, "processId": null}));
    assert!(init.get("error").is_none(), "{init}");
    client.notify("initialized", json!({}));
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    // 200 KB of comments under the rules: every version is 200 KB of JSON to read.
    let padding = format!("# {}\n", "padding ".repeat(100)).repeat(250);
    client.open(&main, &text);
    assert_eq!(client.diagnostics(&main), json!([]));
    const EDITS: usize = 120;
    let mut burst = Vec::new();
    for version in 0..EDITS {
        let changed = text.replace("=> +15 fit", &format!("=> +15 fit{version}")) + padding.as_str();
        let body = json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri(&main), "version": version + 2}, "contentChanges": [{"text": changed}]},
        })
        .to_string();
        burst.extend_from_slice(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }
    let id = 1000;
    let hover = json!({"jsonrpc": "2.0", "id": id, "method": "textDocument/hover", "params": client.at(&main, 9, 10)})
        .to_string();
    burst.extend_from_slice(format!("Content-Length: {}\r\n\r\n{hover}", hover.len()).as_bytes());
    client.raw(&burst);
    let answer = client.wait(|m| m["id"] == json!(id));
    assert!(answer["result"]["contents"]["value"].is_string(), "{answer}");
    // The text the hover saw, and the diagnostics published last, are the last edit's.
    let last = format!("unknown dimension `fit{}`", EDITS - 1);
    let published: Vec<Value> = std::iter::from_fn(|| {
        let i = client
            .seen
            .iter()
            .position(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri(&main))?;
        Some(client.seen.remove(i))
    })
    .collect();
    let latest = match published.last() {
        Some(p) if p["params"]["diagnostics"][0]["message"] == last => p.clone(),
        _ => client.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri(&main)),
    };
    assert_eq!(latest["params"]["diagnostics"][0]["message"], last, "{latest}");
    assert!(
        published.len() < EDITS / 4,
        "{} of {EDITS} versions were analysed and published",
        published.len()
    );
    client.shutdown();
}

#[test]
fn a_field_no_sample_lead_has_is_a_warning_with_a_quick_fix() {
    let (tmp, dir) = pack_copy("b2b-saas");
    let mut client = Client::initialized(tmp.path());
    let main = dir.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap();
    let typo = text.replacen("title ~ VP and visited", "titel ~ VP and visited", 1);
    client.open(&main, &typo);
    let diagnostics = client.diagnostics(&main);
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics}");
    assert_eq!(diagnostics[0]["severity"], 2, "a warning: {diagnostics}");
    let message = diagnostics[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("no sample lead or test case (of ") && message.ends_with("has the field `titel`"),
        "{message}"
    );
    let params = json!({
        "textDocument": {"uri": uri(&main)},
        "range": diagnostics[0]["range"].clone(),
        "context": {"diagnostics": diagnostics},
    });
    let actions = client.result("textDocument/codeAction", params);
    assert_eq!(
        actions[0]["edit"]["changes"][uri(&main)][0]["newText"],
        "title",
        "{actions}"
    );
    client.change(&main, 2, &text);
    assert_eq!(client.diagnostics(&main), json!([]));
    client.shutdown();
}
