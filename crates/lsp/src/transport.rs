//! JSON-RPC over stdio with `Content-Length` framing, robust to garbage.
//!
//! `lsp_server::Connection::stdio` ends the connection at the first malformed message
//! and allocates whatever a `Content-Length` claims; this transport answers a body that is
//! not JSON-RPC with a parse error (`-32700`, as JSON-RPC asks), skips lines that are
//! not headers until the next frame, refuses frames over [`MAX_FRAME`], and goes on.
//! Messages themselves are lsp-server's.
//!
//! Two threads read: one cuts stdin into frames (a copy, nothing more), the other parses
//! them. Frames that queued up while the parser was busy are coalesced first: a
//! `didChange` followed, in the same run of `didChange`s, by a whole-text change of the
//! same document is dropped unparsed, so a burst of keystrokes on a large document costs
//! one parse, and the server only ever sees (and analyses) the latest version. Whether a
//! frame is such a change is read by `peek.rs` without decoding its text.

use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, Read, Write};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use lsp_server::Message;

use super::peek;

/// The largest message body read (a whole pack's text is far below this).
pub const MAX_FRAME: usize = 64 << 20;

/// What the reader hands on: a message, or a frame that was not one.
pub enum Incoming {
    /// A JSON-RPC message.
    Message(Message),
    /// A frame whose body is not a JSON-RPC message: answer with a parse error.
    Malformed(String),
    /// A request whose id is neither an integer nor a string: answer with an invalid
    /// request error (its id `null`, as JSON-RPC asks when the id cannot be read).
    InvalidRequest(String),
}

/// What the writer sends: a message, or a response whose id is `null` (a parse error).
pub enum Outgoing {
    /// A JSON-RPC message.
    Message(Message),
    /// An error response to a message that could not be read.
    ParseError(String),
    /// An error response to a request whose id could not be read.
    InvalidRequest(String),
}

/// The reader and writer threads, on stdin and stdout.
pub struct Transport {
    /// Messages read.
    pub incoming: Receiver<Incoming>,
    /// Messages to write.
    pub outgoing: Sender<Outgoing>,
    reader: thread::JoinHandle<()>,
    writer: thread::JoinHandle<io::Result<()>>,
}

impl Transport {
    /// Starts the threads.
    pub fn stdio() -> io::Result<Transport> {
        let (in_tx, incoming) = crossbeam_channel::unbounded();
        let (outgoing, out_rx) = crossbeam_channel::unbounded::<Outgoing>();
        let (raw_tx, raw_rx) = crossbeam_channel::unbounded();
        let reader = thread::Builder::new()
            .name("lsp-reader".into())
            .spawn(move || read_raw(&mut io::stdin().lock(), &raw_tx))?;
        thread::Builder::new()
            .name("lsp-parser".into())
            .spawn(move || parse_frames(&raw_rx, &in_tx))?;
        let writer = thread::Builder::new().name("lsp-writer".into()).spawn(move || {
            let mut out = io::stdout().lock();
            for message in out_rx {
                write_frame(&mut out, &message)?;
            }
            Ok(())
        })?;
        Ok(Transport {
            incoming,
            outgoing,
            reader,
            writer,
        })
    }

    /// Waits for the writer to flush what it was given (after `outgoing` is dropped).
    /// The reader is not joined: it may be blocked on stdin, which the process exit ends.
    pub fn finish(self) -> io::Result<()> {
        drop(self.outgoing);
        drop(self.reader);
        self.writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")))
    }
}

/// A frame as read: its body, or why it was read past.
type Raw = Result<Vec<u8>, Skip>;

/// Cuts the input into frames until it ends (or the parser stops listening).
fn read_raw(input: &mut impl BufRead, to: &Sender<Raw>) {
    loop {
        let raw = match read_frame(input) {
            Ok(Some(body)) => Ok(body),
            Ok(None) => return,
            Err(skip) => Err(skip),
        };
        if to.send(raw).is_err() {
            return;
        }
    }
}

/// Parses frames as they come, each batch that queued up coalesced first, until the
/// frames end, the server stops listening or the client says `exit`.
fn parse_frames(from: &Receiver<Raw>, to: &Sender<Incoming>) {
    while let Ok(first) = from.recv() {
        let mut batch = vec![first];
        batch.extend(from.try_iter());
        for raw in coalesce(batch) {
            let incoming = match raw {
                Ok(body) => message(&body),
                Err(Skip(why)) => Incoming::Malformed(why),
            };
            let exit = matches!(&incoming, Incoming::Message(Message::Notification(n)) if n.method == "exit");
            if to.send(incoming).is_err() || exit {
                return;
            }
        }
    }
}

/// Reads frames until the input ends, one by one (no batch to coalesce).
#[cfg(test)]
fn read_frames(input: &mut impl BufRead, to: &Sender<Incoming>) {
    let (raw_tx, raw_rx) = crossbeam_channel::unbounded();
    read_raw(input, &raw_tx);
    drop(raw_tx);
    parse_frames(&raw_rx, to);
}

/// A batch without the `didChange`s that a later whole-text change of the same document
/// replaces, with nothing but `didChange`s between them (a request in between must see
/// the text as it was then). The rest keep their order.
fn coalesce(batch: Vec<Raw>) -> VecDeque<Raw> {
    let mut kept = VecDeque::with_capacity(batch.len());
    if batch.len() < 2 {
        kept.extend(batch);
        return kept;
    }
    // From the end: the documents a later change in this run of `didChange`s replaces.
    let mut replaced: HashSet<String> = HashSet::new();
    for raw in batch.into_iter().rev() {
        match raw.as_ref().ok().and_then(|body| peek::change_of(body)) {
            Some(change) if replaced.contains(&change.uri) => continue,
            Some(change) => {
                if change.whole {
                    replaced.insert(change.uri);
                }
            }
            None => replaced.clear(),
        }
        kept.push_front(raw);
    }
    kept
}

/// A frame's body as a message. A `method` with an `id` that is not an integer or a
/// string (an object, a float, `true`, `null`, a number past i32) is a request whose id
/// cannot be answered under, not a notification to ignore.
fn message(body: &[u8]) -> Incoming {
    let value = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => value,
        Err(e) => return Incoming::Malformed(format!("not a JSON-RPC message: {e}")),
    };
    if let (Some(id), Some(_)) = (value.get("id"), value.get("method")) {
        let valid = id.is_string() || id.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
        if !valid {
            return Incoming::InvalidRequest(format!("a request id must be an integer or a string, not {id}"));
        }
    }
    match serde_json::from_value::<Message>(value) {
        Ok(message) => Incoming::Message(message),
        Err(e) => Incoming::Malformed(format!("not a JSON-RPC message: {e}")),
    }
}

/// A frame that was read past.
struct Skip(String);

/// One frame's body; `None` at the end of the input.
fn read_frame(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, Skip> {
    let mut length: Option<usize> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(None),
        }
        let text = String::from_utf8_lossy(&line);
        let header = text.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            if let Some(n) = length {
                return body(input, n).map(Some);
            }
            continue; // a blank line between frames, or after a garbage line
        }
        match header.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                length = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| Skip(format!("bad Content-Length `{value}`")))?,
                );
            }
            Some((name, _)) if name.trim().eq_ignore_ascii_case("content-type") => {}
            _ => {
                // Not a header: garbage between frames. Read on to the next frame's headers.
                length = None;
            }
        }
    }
}

fn body(input: &mut impl BufRead, n: usize) -> Result<Vec<u8>, Skip> {
    if n > MAX_FRAME {
        let skipped = io::copy(&mut input.take(n as u64), &mut io::sink()).unwrap_or(0);
        return Err(Skip(format!(
            "a message of {n} bytes is over the limit of {MAX_FRAME} (read past {skipped})"
        )));
    }
    let mut body = vec![0; n];
    input
        .read_exact(&mut body)
        .map_err(|e| Skip(format!("the input ended inside a message: {e}")))?;
    Ok(body)
}

fn write_frame(out: &mut impl Write, message: &Outgoing) -> io::Result<()> {
    match message {
        Outgoing::Message(m) => m.write(out),
        Outgoing::ParseError(why) | Outgoing::InvalidRequest(why) => {
            let code = match message {
                Outgoing::ParseError(_) => -32700,
                _ => -32600,
            };
            let text = serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": code, "message": why},
            })
            .to_string();
            write!(out, "Content-Length: {}\r\n\r\n", text.len())?;
            out.write_all(text.as_bytes())?;
            out.flush()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<String> {
        let (tx, rx) = crossbeam_channel::unbounded();
        read_frames(&mut io::Cursor::new(input.to_vec()), &tx);
        drop(tx);
        rx.into_iter()
            .map(|i| match i {
                Incoming::Message(Message::Request(r)) => format!("request {}", r.method),
                Incoming::Message(Message::Notification(n)) => format!("notification {}", n.method),
                Incoming::Message(Message::Response(_)) => "response".into(),
                Incoming::Malformed(why) => format!("malformed: {why}"),
                Incoming::InvalidRequest(why) => format!("invalid: {why}"),
            })
            .collect()
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn garbage_between_and_inside_frames_is_read_past() {
        let mut input = String::from("hello there\n\u{1}\u{2}\r\n");
        input += &frame(r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#);
        input += &frame("{not json");
        input += "Content-Length: 99999999999999\r\n\r\n";
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        bytes.extend_from_slice(frame(r#"{"jsonrpc":"2.0","method":"b"}"#).as_bytes());
        let got = frames(&bytes);
        assert_eq!(got[0], "request a");
        assert!(got[1].starts_with("malformed: not a JSON-RPC message"), "{got:?}");
        assert!(got[2].contains("over the limit"), "{got:?}");
        assert_eq!(
            got.len(),
            3,
            "the oversized frame swallowed the rest, without allocating it: {got:?}"
        );
    }

    fn change(uri: &str, range: bool, text: &str) -> Raw {
        let edit = match range {
            true => {
                serde_json::json!({"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": text})
            }
            false => serde_json::json!({"text": text}),
        };
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": 1}, "contentChanges": [edit]},
        });
        Ok(body.to_string().into_bytes())
    }

    fn texts(batch: VecDeque<Raw>) -> Vec<String> {
        batch
            .into_iter()
            .map(|raw| {
                let v: serde_json::Value = serde_json::from_slice(&raw.ok().unwrap()).unwrap();
                match v["params"]["contentChanges"][0]["text"].as_str() {
                    Some(text) => format!("{} {text}", v["params"]["textDocument"]["uri"].as_str().unwrap()),
                    None => v["method"].as_str().unwrap().to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn a_run_of_changes_keeps_each_documents_latest_whole_text() {
        let hover = Ok(br#"{"jsonrpc":"2.0","id":1,"method":"textDocument/hover"}"#.to_vec());
        let batch = vec![
            change("a", false, "a1"),
            change("b", false, "b1"),
            change("a", false, "a2"),
            change("a", true, "a3 (an edit on a2)"),
            hover,
            change("a", false, "a4"),
            change("a", false, "a5"),
            change("b", true, "b2 (an edit on b1)"),
        ];
        assert_eq!(
            texts(coalesce(batch)),
            [
                "b b1",
                "a a2",
                "a a3 (an edit on a2)",
                "textDocument/hover",
                "a a5",
                "b b2 (an edit on b1)"
            ]
        );
    }

    #[test]
    fn a_frame_after_a_garbage_line_is_read() {
        let input = format!("garbage\r\n{}", frame(r#"{"jsonrpc":"2.0","method":"b"}"#));
        assert_eq!(frames(input.as_bytes()), ["notification b"]);
    }
}
