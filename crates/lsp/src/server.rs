//! The server loop: initialize, then requests and notifications one at a time on this
//! thread, with each pack folder's diagnostics published when its debounce runs out.
//! Scoring sample leads for the code lens is handed to the worker (`jobs.rs`) and answered
//! when it comes back, so no request waits behind it; `$/cancelRequest` answers such a
//! request at once with `RequestCancelled`, and a lens scored for a pack saved again since
//! is not kept (its request gets `ContentModified`).
//!
//! Every request is answered: a failure (bad params, a syntax error that stops
//! formatting, even a panic in a handler) is an error response, and the loop goes on.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use lsp_types::notification::{
    Cancel, DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, CodeLensRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    References, Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CodeLensOptions, CompletionOptions, Hover,
    HoverContents, HoverProviderCapability, InitializeResult, MarkupContent, MarkupKind, OneOf,
    PublishDiagnosticsParams, SaveOptions, ServerCapabilities, ServerInfo, TextDocumentContentChangeEvent,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri,
};
use serde_json::Value;

use super::jobs::{self, Done, Job, Worker};
use super::position::{path_of, uri_of, Lines};
use super::transport::{Incoming, Outgoing};
use super::workspace::Workspace;
use super::{actions, completion, diagnostics, formatting, hover, lens, navigate, symbols, Options};

/// A failed request: the JSON-RPC error code and message.
type Failure = (i32, String);

/// The request was valid but could not be carried out (LSP 3.17).
const REQUEST_FAILED: i32 = ErrorCode::RequestFailed as i32;

/// What the loop waits for next.
enum Event {
    Incoming(Incoming),
    Done(Done),
    /// A folder's diagnostics are due.
    Due,
    /// The client's input ended.
    Closed,
}

/// The server's state.
pub struct Server {
    workspace: Workspace,
    debounce: Duration,
    /// The URIs the client used for open documents (diagnostics go back under them).
    uris: HashMap<PathBuf, Uri>,
    /// Whether the client can be asked to refresh code lenses.
    lens_refresh: bool,
    out: Sender<Outgoing>,
    next_id: i32,
    /// Where slow work runs.
    worker: Worker,
    /// Requests handed to the worker and not answered yet, with their cancellation flags.
    pending: HashMap<RequestId, jobs::Cancel>,
}

impl Server {
    /// A server that writes to `out`; fails if its worker thread cannot start.
    pub fn new(options: &Options, out: Sender<Outgoing>) -> std::io::Result<Server> {
        Ok(Server {
            workspace: Workspace::new(options.loader.clone()),
            debounce: options.debounce,
            uris: HashMap::new(),
            lens_refresh: false,
            out,
            next_id: 0,
            worker: Worker::start()?,
            pending: HashMap::new(),
        })
    }

    /// The next message, finished job or due diagnostics.
    fn next_event(&self, inbox: &Receiver<Incoming>) -> Event {
        let done = &self.worker.done;
        let wait = self
            .workspace
            .next_due()
            .map(|at| at.saturating_duration_since(Instant::now()));
        let incoming = |m: Result<Incoming, _>| m.map_or(Event::Closed, Event::Incoming);
        let finished = |d: Result<Done, _>| d.map_or(Event::Closed, Event::Done);
        match wait {
            Some(wait) => select! {
                recv(inbox) -> m => incoming(m),
                recv(done) -> d => finished(d),
                default(wait) => Event::Due,
            },
            None => select! {
                recv(inbox) -> m => incoming(m),
                recv(done) -> d => finished(d),
            },
        }
    }

    /// Serves until `exit` or the end of the input. Returns whether `shutdown` came
    /// first (the protocol's exit code 0; without it, 1).
    pub fn serve(&mut self, inbox: &Receiver<Incoming>) -> bool {
        let mut initialized = false;
        let mut shutting_down = false;
        loop {
            let incoming = match self.next_event(inbox) {
                Event::Incoming(m) => m,
                Event::Done(done) => {
                    self.finished(done);
                    continue;
                }
                Event::Due => {
                    self.publish_due();
                    continue;
                }
                Event::Closed => return shutting_down,
            };
            match incoming {
                Incoming::Malformed(why) => self.send(Outgoing::ParseError(why)),
                Incoming::InvalidRequest(why) => self.send(Outgoing::InvalidRequest(why)),
                Incoming::Message(Message::Request(req)) => {
                    let id = req.id.clone();
                    let result = if shutting_down {
                        Err((ErrorCode::InvalidRequest as i32, "the server is shutting down".into()))
                    } else if req.method == "initialize" && initialized {
                        Err((
                            ErrorCode::InvalidRequest as i32,
                            "the server is already initialized".into(),
                        ))
                    } else if req.method == "initialize" {
                        initialized = true;
                        self.initialize(req.params)
                    } else if !initialized {
                        Err((
                            ErrorCode::ServerNotInitialized as i32,
                            "the server is not initialized yet".into(),
                        ))
                    } else if req.method == "shutdown" {
                        shutting_down = true;
                        Ok(Value::Null)
                    } else if req.method == CodeLensRequest::METHOD {
                        match guarded(|| self.code_lens(req)) {
                            // Handed to the worker: answered when it is done.
                            Ok(None) => continue,
                            Ok(Some(lens)) => Ok(lens),
                            Err(failure) => Err(failure),
                        }
                    } else {
                        guarded(|| self.request(req))
                    };
                    self.respond(id, result);
                }
                Incoming::Message(Message::Notification(n)) => {
                    if n.method == "exit" {
                        return shutting_down;
                    }
                    if initialized {
                        let method = n.method.clone();
                        if let Err((_, message)) = guarded(|| self.notification(n).map(|()| Value::Null)) {
                            eprintln!("leadscore lsp: {method}: {message}");
                        }
                    }
                }
                // Answers to our requests (code lens refreshes): nothing to do.
                Incoming::Message(Message::Response(_)) => {}
            }
        }
    }

    fn send(&self, message: Outgoing) {
        let _ = self.out.send(message);
    }

    fn respond(&self, id: RequestId, result: Result<Value, Failure>) {
        let response = Response {
            id,
            response_result: result.map_err(|(code, message)| ResponseError {
                code,
                message,
                data: None,
            }),
        };
        self.send(Outgoing::Message(response.into()));
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        self.send(Outgoing::Message(Notification::new(method.into(), params).into()));
    }

    fn initialize(&mut self, params: Value) -> Result<Value, Failure> {
        self.lens_refresh = params
            .pointer("/capabilities/workspace/codeLens/refreshSupport")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let result = InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "leadscore".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        };
        serde_json::to_value(result).map_err(internal)
    }

    fn request(&mut self, req: Request) -> Result<Value, Failure> {
        let params = req.params;
        match req.method.as_str() {
            HoverRequest::METHOD => self.hover(parse(params)?),
            GotoDefinition::METHOD => self.definition(parse(params)?),
            References::METHOD => self.references(parse(params)?),
            Completion::METHOD => self.completion(parse(params)?),
            Formatting::METHOD => self.formatting(parse(params)?),
            DocumentSymbolRequest::METHOD => self.symbols(parse(params)?),
            CodeActionRequest::METHOD => self.code_actions(parse(params)?),
            other => Err((ErrorCode::MethodNotFound as i32, format!("unknown method `{other}`"))),
        }
    }

    fn notification(&mut self, n: Notification) -> Result<(), Failure> {
        match n.method.as_str() {
            Cancel::METHOD => {
                let p: lsp_types::CancelParams = parse(n.params)?;
                let id = match p.id {
                    lsp_types::NumberOrString::Number(n) => RequestId::from(n),
                    lsp_types::NumberOrString::String(s) => RequestId::from(s),
                };
                // A request answered already (all but the worker's) is left alone.
                if let Some(cancel) = self.pending.remove(&id) {
                    cancel.cancel();
                    let why = "cancelled by the client".to_string();
                    self.respond(id, Err((ErrorCode::RequestCanceled as i32, why)));
                }
            }
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams = parse(n.params)?;
                if let Some(path) = path_of(&p.text_document.uri) {
                    self.uris.insert(path.clone(), p.text_document.uri);
                    self.workspace.set_text(&path, p.text_document.text);
                    self.publish(&Workspace::folder_of(&path));
                }
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams = parse(n.params)?;
                if let Some(path) = path_of(&p.text_document.uri) {
                    let mut text = self.workspace.text(&path).unwrap_or_default();
                    for change in p.content_changes {
                        apply(&mut text, change);
                    }
                    self.workspace.set_text(&path, text);
                    let folder = Workspace::folder_of(&path);
                    self.workspace.schedule(&folder, Instant::now() + self.debounce);
                }
            }
            DidSaveTextDocument::METHOD => {
                let p: lsp_types::DidSaveTextDocumentParams = parse(n.params)?;
                if let Some(path) = path_of(&p.text_document.uri) {
                    self.saved(&Workspace::folder_of(&path));
                }
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams = parse(n.params)?;
                if let Some(path) = path_of(&p.text_document.uri) {
                    self.uris.remove(&path);
                    self.workspace.close(&path);
                    self.publish(&Workspace::folder_of(&path));
                }
            }
            DidChangeWatchedFiles::METHOD => {
                let p: lsp_types::DidChangeWatchedFilesParams = parse(n.params)?;
                let mut folders: Vec<PathBuf> = p
                    .changes
                    .iter()
                    .filter_map(|c| path_of(&c.uri))
                    .map(|path| pack_folder_of_changed(&path))
                    .collect();
                folders.sort();
                folders.dedup();
                for folder in folders {
                    self.saved(&folder);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A file of the folder was saved: diagnostics now, and the code lens again.
    fn saved(&mut self, folder: &Path) {
        self.workspace.saved(folder);
        self.publish(folder);
        if self.lens_refresh {
            self.next_id += 1;
            let request = Request::new(
                RequestId::from(format!("leadscore-{}", self.next_id)),
                "workspace/codeLens/refresh".into(),
                Value::Null,
            );
            self.send(Outgoing::Message(request.into()));
        }
    }

    fn publish_due(&mut self) {
        for folder in self.workspace.take_due(Instant::now()) {
            self.publish(&folder);
        }
    }

    /// Publishes the diagnostics of every file of a pack folder.
    fn publish(&mut self, folder: &Path) {
        let analysis = self.workspace.analysis(folder);
        let all = diagnostics::of_pack(&analysis);
        let files: Vec<PathBuf> = all.iter().map(|(p, _)| p.clone()).collect();
        for (path, diagnostics) in all {
            // Plugin scripts get diagnostics only when they have some.
            let rules = path.extension().is_some_and(|e| e == "rules");
            if rules || !diagnostics.is_empty() {
                self.publish_file(&path, diagnostics);
            }
        }
        for gone in self.workspace.published(folder, files) {
            self.publish_file(&gone, Vec::new());
        }
    }

    fn publish_file(&self, path: &Path, diagnostics: Vec<lsp_types::Diagnostic>) {
        let Some(uri) = self.uris.get(path).cloned().or_else(|| uri_of(path)) else {
            return;
        };
        self.notify(
            PublishDiagnostics::METHOD,
            PublishDiagnosticsParams::new(uri, diagnostics, None),
        );
    }

    /// The analysis of a document's pack, the document's index in it and its text's lines.
    fn document(&mut self, uri: &Uri) -> Option<Document> {
        let path = path_of(uri)?;
        let folder = Workspace::folder_of(&path);
        let analysis = self.workspace.analysis(&folder);
        let file = analysis.files.iter().position(|f| f.path == path)?;
        Some(Document { folder, analysis, file })
    }

    fn hover(&mut self, p: lsp_types::HoverParams) -> Result<Value, Failure> {
        let at = p.text_document_position_params;
        let Some(doc) = self.document(&at.text_document.uri) else {
            return Ok(Value::Null);
        };
        let offset = doc.offset(at.position);
        let Some(item) = navigate::item_at(&doc.analysis, doc.file, offset) else {
            return Ok(Value::Null);
        };
        let samples = self.workspace.samples(&doc.folder);
        let hover = Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: hover::text(&doc.analysis, item, &samples),
            }),
            range: Some(doc.range(item.at.start, item.at.end)),
        };
        to_json(hover)
    }

    fn definition(&mut self, p: lsp_types::GotoDefinitionParams) -> Result<Value, Failure> {
        let at = p.text_document_position_params;
        let Some(doc) = self.document(&at.text_document.uri) else {
            return Ok(Value::Null);
        };
        let offset = doc.offset(at.position);
        match navigate::item_at(&doc.analysis, doc.file, offset) {
            Some(item) => to_json(navigate::definitions(&doc.analysis, item)),
            None => Ok(Value::Null),
        }
    }

    fn references(&mut self, p: lsp_types::ReferenceParams) -> Result<Value, Failure> {
        let at = p.text_document_position;
        let Some(doc) = self.document(&at.text_document.uri) else {
            return Ok(Value::Null);
        };
        let offset = doc.offset(at.position);
        match navigate::item_at(&doc.analysis, doc.file, offset) {
            Some(item) => to_json(navigate::references(&doc.analysis, item, p.context.include_declaration)),
            None => Ok(Value::Null),
        }
    }

    fn completion(&mut self, p: lsp_types::CompletionParams) -> Result<Value, Failure> {
        let at = p.text_document_position;
        let Some(doc) = self.document(&at.text_document.uri) else {
            return Ok(Value::Null);
        };
        let samples = self.workspace.samples(&doc.folder);
        let text = &doc.analysis.files[doc.file].text;
        let before = Lines::new(text).line_before(at.position);
        to_json(completion::complete(&doc.analysis, &samples, before))
    }

    fn formatting(&mut self, p: lsp_types::DocumentFormattingParams) -> Result<Value, Failure> {
        let Some(path) = path_of(&p.text_document.uri) else {
            return Ok(Value::Null);
        };
        if !self.workspace.may_format(&path) {
            return Err((
                REQUEST_FAILED,
                "only documents open in the editor, or rule files of their packs, are formatted".into(),
            ));
        }
        let Some(text) = self.workspace.text(&path) else {
            return Err((REQUEST_FAILED, format!("cannot read {}", path.display())));
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let edits = formatting::format(&name, &text).map_err(|e| (REQUEST_FAILED, e))?;
        to_json(edits)
    }

    fn symbols(&mut self, p: lsp_types::DocumentSymbolParams) -> Result<Value, Failure> {
        match self.document(&p.text_document.uri) {
            Some(doc) => to_json(symbols::of_file(&doc.analysis, doc.file)),
            None => Ok(Value::Null),
        }
    }

    /// The code lens, at once if its folder's sample leads were scored since the last
    /// save (`Some`), else handed to the worker (`None`, and the request is pending).
    fn code_lens(&mut self, req: Request) -> Result<Option<Value>, Failure> {
        let p: lsp_types::CodeLensParams = parse(req.params)?;
        let Some(path) = path_of(&p.text_document.uri) else {
            return Ok(Some(Value::Null));
        };
        let folder = Workspace::folder_of(&path);
        if let Some(text) = self.workspace.lens(&folder) {
            return to_json(vec![lens::mql_lens(&text)]).map(Some);
        }
        let cancel = jobs::Cancel::default();
        let job = Job {
            id: req.id.clone(),
            generation: self.workspace.generation(&folder),
            samples: self.workspace.samples(&folder),
            loader: self.workspace.loader_for(&folder),
            folder,
            cancel: cancel.clone(),
        };
        if !self.worker.submit(job) {
            return Err(internal("the worker thread stopped"));
        }
        self.pending.insert(req.id, cancel);
        Ok(None)
    }

    /// A job came back: its request is answered unless it was cancelled; a lens of a pack
    /// saved since is not kept, and its request is told the content changed.
    fn finished(&mut self, done: Done) {
        if self.pending.remove(&done.id).is_none() {
            return; // cancelled, and answered then
        }
        let result = match done.lens {
            None => Err((ErrorCode::RequestCanceled as i32, "cancelled".to_string())),
            Some(text) => {
                let text = std::sync::Arc::new(text);
                if self
                    .workspace
                    .set_lens(&done.folder, done.generation, std::sync::Arc::clone(&text))
                {
                    to_json(vec![lens::mql_lens(&text)])
                } else {
                    Err((
                        ErrorCode::ContentModified as i32,
                        "the pack was saved while its sample leads were scored; ask again".to_string(),
                    ))
                }
            }
        };
        self.respond(done.id, result);
    }

    fn code_actions(&mut self, p: lsp_types::CodeActionParams) -> Result<Value, Failure> {
        let Some(doc) = self.document(&p.text_document.uri) else {
            return Ok(Value::Null);
        };
        to_json(actions::quick_fixes(
            &doc.analysis,
            doc.file,
            &p.text_document.uri,
            p.range,
        ))
    }
}

/// A document's place in its pack's analysis.
struct Document {
    folder: PathBuf,
    analysis: std::sync::Arc<super::adapter::Analysis>,
    file: usize,
}

impl Document {
    fn offset(&self, position: lsp_types::Position) -> usize {
        Lines::new(&self.analysis.files[self.file].text).offset(position)
    }

    fn range(&self, start: usize, end: usize) -> lsp_types::Range {
        Lines::new(&self.analysis.files[self.file].text).range(start, end)
    }
}

/// What the server offers.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::FULL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                include_text: Some(false),
            })),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), "\"".into()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

/// The pack folder a changed file belongs to: its own folder, or for a plugin script in
/// `plugins/` and a sample lead in `leads/`, the folder above.
fn pack_folder_of_changed(path: &Path) -> PathBuf {
    let folder = Workspace::folder_of(path);
    let sub = folder.file_name().is_some_and(|n| n == "plugins" || n == "leads");
    if sub {
        Workspace::folder_of(&folder)
    } else {
        folder
    }
}

/// Applies one change: a whole new text, or a range replaced.
fn apply(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let lines = Lines::new(text);
            let (start, end) = (lines.offset(range.start), lines.offset(range.end));
            text.replace_range(start..end.max(start), &change.text);
        }
    }
}

fn parse<P: serde::de::DeserializeOwned>(params: Value) -> Result<P, Failure> {
    serde_json::from_value(params).map_err(|e| (ErrorCode::InvalidParams as i32, format!("invalid params: {e}")))
}

fn to_json(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> Failure {
    (ErrorCode::InternalError as i32, e.to_string())
}

/// Runs a handler; a panic in it becomes an internal-error response.
fn guarded<T>(handler: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(handler)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err((ErrorCode::InternalError as i32, format!("internal error: {why}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_is_an_error_response() {
        let result: Result<Value, Failure> = guarded(|| panic!("boom"));
        assert_eq!(
            result,
            Err((ErrorCode::InternalError as i32, "internal error: boom".into()))
        );
        assert_eq!(guarded(|| Ok(Value::Bool(true))), Ok(Value::Bool(true)));
    }

    #[test]
    fn changes_apply_whole_or_by_range() {
        let mut text = "title ~ VP => +5\n".to_string();
        let range = lsp_types::Range::new(lsp_types::Position::new(0, 8), lsp_types::Position::new(0, 10));
        apply(
            &mut text,
            TextDocumentContentChangeEvent {
                range: Some(range),
                range_length: None,
                text: "CEO".into(),
            },
        );
        assert_eq!(text, "title ~ CEO => +5\n");
        apply(
            &mut text,
            TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "x".into(),
            },
        );
        assert_eq!(text, "x");
    }
}
