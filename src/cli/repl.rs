//! `leadscore repl [PACK]`: try conditions and rules against one lead. The logic is the
//! library's [`leadscore::session::Session`]; this file parses command lines, edits lines (rustyline:
//! history, completion) and prints. When stdin is not a terminal, commands are read line
//! by line and answered in plain text, so sessions can be scripted.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use leadscore::session::{Entered, Session, SessionError};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::{as_of, Exit, Failure, PackArgs};

/// Arguments of `repl`.
#[derive(clap::Args, Debug)]
pub struct ReplArgs {
    /// The pack folder; without one the session starts with no rules.
    pack: Option<PathBuf>,
    /// Score as of this RFC 3339 time (default: now); `:as-of` changes it.
    #[arg(long = "as-of", value_name = "TIME")]
    as_of: Option<String>,
    /// A lead (JSON file) to start with.
    #[arg(long, value_name = "FILE")]
    lead: Option<PathBuf>,
    /// Print each command before its answer (for transcripts of scripted sessions).
    #[arg(long)]
    echo: bool,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// The commands, for `:help` and completion.
const COMMANDS: [(&str, &str); 17] = [
    (
        ":set",
        ":set FIELD = VALUE   set a field (dotted paths nest; VALUE is JSON or a bare word)",
    ),
    (":unset", ":unset FIELD         remove a field"),
    (
        ":lead",
        ":lead FILE           load the lead from a JSON file (or paste a JSON object)",
    ),
    (":show", ":show                print the lead"),
    (
        ":event",
        ":event TYPE [k=v ...] [at=TIME]   add an event; TIME is -30m, -2h, -3d, -1w or RFC 3339",
    ),
    (":events", ":events              list the events"),
    (":clear-events", ":clear-events        remove every event"),
    (
        ":as-of",
        ":as-of [TIME]        show or set the time scores are as of (RFC 3339, now, -1d)",
    ),
    (":score", ":score               score the lead"),
    (":explain", ":explain             explain the lead's score"),
    (
        ":rules",
        ":rules               list the rules of the pack and the session",
    ),
    (
        ":reload",
        ":reload              reload the pack from disk (session statements stay)",
    ),
    (
        ":save",
        ":save FILE           write the session's statements to a rules file",
    ),
    (":help", ":help                this list"),
    (":quit", ":quit                leave (also Ctrl-D)"),
    (":q", ""),
    (":exit", ""),
];

/// Starts the session and reads commands from a terminal or, otherwise, line by line.
pub fn run(args: &ReplArgs) -> Result<Exit, Failure> {
    let as_of = as_of(args.as_of.as_deref())?;
    let color = std::io::stdout().is_terminal();
    let mut session = Session::new(args.pack_args.loader(), args.pack.clone(), as_of).map_err(Failure::pack)?;
    if let Some(lead) = &args.lead {
        session.load_lead(lead).map_err(|e| Failure(format!("error: {e}")))?;
    }
    if std::io::stdin().is_terminal() {
        interactive(session, color)
    } else {
        scripted(session, args.echo)
    }
}

/// What one command line led to.
struct Answer {
    text: String,
    failed: bool,
    quit: bool,
}

impl Answer {
    /// An answer; names and values in it (from the pack, the lead or the user) are
    /// escaped for the terminal.
    fn ok(text: impl Into<String>) -> Answer {
        Answer {
            text: leadscore::show_rendered(&text.into()).into_owned(),
            failed: false,
            quit: false,
        }
    }

    fn fail(text: impl Into<String>) -> Answer {
        Answer {
            failed: true,
            ..Answer::ok(text)
        }
    }

    /// A pack's diagnostics, rendered (and escaped) by the library, perhaps in colour.
    fn diagnostics(text: String) -> Answer {
        Answer {
            text,
            failed: true,
            quit: false,
        }
    }
}

/// Reads commands from a pipe or file: plain output, exit 1 if any command failed.
fn scripted(mut session: Session, echo: bool) -> Result<Exit, Failure> {
    let stdin = std::io::stdin();
    let mut out = super::stdout();
    let mut failed = false;
    let mut pending = String::new();
    for line in stdin.lock().lines() {
        let line = line?;
        let Some(complete) = gather(&mut pending, &line) else {
            continue;
        };
        if echo {
            writeln!(out, "> {}", complete.trim())?;
        }
        let answer = answer(&mut session, &complete, false);
        write_answer(&mut out, &answer)?;
        failed |= answer.failed;
        if answer.quit {
            break;
        }
    }
    if !pending.trim().is_empty() {
        writeln!(out, "error: the pasted JSON object is not complete")?;
        failed = true;
    }
    Ok(if failed { Exit::Partial } else { Exit::Success })
}

/// Collects the lines of a pasted JSON object; `None` while one is incomplete.
fn gather(pending: &mut String, line: &str) -> Option<String> {
    if pending.is_empty() && !line.trim_start().starts_with('{') {
        return Some(line.to_string());
    }
    pending.push_str(line);
    pending.push('\n');
    match serde_json::from_str::<serde_json::Value>(pending) {
        Err(e) if e.is_eof() => None,
        _ => Some(std::mem::take(pending)),
    }
}

fn write_answer(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
    if answer.text.is_empty() {
        return Ok(());
    }
    write!(out, "{}", answer.text)?;
    if !answer.text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

/// Line editing with history and completion.
fn interactive(mut session: Session, color: bool) -> Result<Exit, Failure> {
    let mut editor: Editor<Completion, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| Failure(format!("error: cannot start the line editor: {e}")))?;
    editor.set_helper(Some(Completion {
        names: session.names(),
        files: FilenameCompleter::new(),
    }));
    let history = history_file();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    let pack = session
        .dir()
        .map_or_else(|| "no pack".to_string(), |_| session.pack().id().to_string());
    outln!(
        "leadscore repl — {pack}, as of {}. :help lists the commands.",
        session.as_of().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "leadscore> " } else { "...> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure(format!("error: {e}"))),
        };
        let Some(complete) = gather(&mut pending, &line) else {
            continue;
        };
        if !complete.trim().is_empty() {
            let _ = editor.add_history_entry(complete.trim());
        }
        let answer = answer(&mut session, &complete, color);
        write_answer(&mut super::stdout(), &answer)?;
        if answer.quit {
            break;
        }
        if let Some(helper) = editor.helper_mut() {
            helper.names = session.names();
        }
    }
    if let Some(path) = &history {
        if let Err(e) = editor.save_history(path) {
            errln!("warning: cannot save the history to {}: {e}", path.display());
        }
    }
    Ok(Exit::Success)
}

/// `$LEADSCORE_HISTORY`, or `~/.leadscore_history`.
fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LEADSCORE_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".leadscore_history"))
}

/// Runs one command line against the session.
fn answer(session: &mut Session, line: &str, color: bool) -> Answer {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Answer::ok("");
    }
    if line.starts_with('{') {
        return done(session.set_lead_json(line).map(|()| "lead set".to_string()), color);
    }
    let Some(command) = line.strip_prefix(':') else {
        return done(session.enter(line).map(|e| entered(&e, session.lead())), color);
    };
    let (name, rest) = command.split_once(char::is_whitespace).unwrap_or((command, ""));
    let rest = rest.trim();
    match name {
        "quit" | "q" | "exit" => Answer {
            text: String::new(),
            failed: false,
            quit: true,
        },
        "help" => Answer::ok(help()),
        "set" => match rest.split_once('=') {
            Some((field, value)) if !field.trim().is_empty() => done(
                session
                    .set_field(field.trim(), value)
                    .map(|()| format!("{} = {}", field.trim(), show_field(session, field.trim()))),
                color,
            ),
            _ => Answer::fail("usage: :set FIELD = VALUE   (e.g. :set company.size = 120)"),
        },
        "unset" if !rest.is_empty() => {
            if session.unset_field(rest) {
                Answer::ok(format!("{rest} removed"))
            } else {
                Answer::fail(format!("the lead has no field `{rest}`"))
            }
        }
        "lead" if !rest.is_empty() => done(
            session
                .load_lead(Path::new(rest))
                .map(|()| format!("lead loaded from {rest}")),
            color,
        ),
        "show" => Answer::ok(serde_json::to_string_pretty(session.lead()).unwrap_or_default()),
        "event" if !rest.is_empty() => event(session, rest, color),
        "events" => Answer::ok(events(session)),
        "clear-events" => Answer::ok(format!("{} event(s) removed", session.clear_events())),
        "as-of" if rest.is_empty() => Answer::ok(format!(
            "as of {}",
            session.as_of().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )),
        "as-of" => done(
            session
                .set_as_of(rest)
                .map(|t| format!("as of {}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
            color,
        ),
        "score" => done(session.score().map(|o| verdict(&o)).map_err(SessionError::from), color),
        "explain" => done(session.explain().map_err(SessionError::from), color),
        "rules" => Answer::ok(rules(session)),
        "reload" => done(
            session
                .reload()
                .map(|()| format!("reloaded: {} rules", session.rules().len())),
            color,
        ),
        "save" if !rest.is_empty() => done(
            session
                .save(Path::new(rest))
                .map(|()| format!("{} statement(s) written to {rest}", session.statements().len())),
            color,
        ),
        "unset" | "lead" | "event" | "save" => Answer::fail(format!("usage: {}", usage(name))),
        other => {
            let names = COMMANDS.iter().map(|(c, _)| c.trim_start_matches(':'));
            match leadscore::check::did_you_mean(other, names) {
                Some(name) => Answer::fail(format!("unknown command `:{other}`; did you mean `:{name}`?")),
                None => Answer::fail(format!("unknown command `:{other}`; :help lists the commands")),
            }
        }
    }
}

/// The answer for a command's result: its text, or the error rendered.
fn done(result: Result<String, SessionError>, color: bool) -> Answer {
    match result {
        Ok(text) => Answer::ok(text),
        Err(SessionError::Error(leadscore::Error::Pack(errors))) => Answer::diagnostics(errors.render(color)),
        Err(e) => Answer::fail(format!("error: {e}")),
    }
}

fn usage(command: &str) -> &'static str {
    let name = format!(":{command}");
    COMMANDS.iter().find(|(c, _)| *c == name).map_or("", |(_, help)| help)
}

fn help() -> String {
    let mut text = String::from("Type a condition to see whether the lead meets it and why, or a rule,\n`let`, `threshold`, `cap` or `route` to add it to the session.\n");
    for (_, line) in COMMANDS.iter().filter(|(_, h)| !h.is_empty()) {
        text += &format!("  {line}\n");
    }
    text
}

/// What typing rule language printed.
fn entered(entered: &Entered, lead: &serde_json::Value) -> String {
    match entered {
        Entered::Condition(trace) => format!("{}{}", trace.to_string().trim_end(), typos(trace, lead)),
        Entered::Statement {
            replaced,
            before,
            after: Ok(outcome),
        } => {
            let was = match before {
                Some(b) if *b == outcome.score => " (score unchanged)".to_string(),
                Some(b) => format!(" (was {})", num(*b)),
                None => String::new(),
            };
            let verb = if *replaced { "replaced" } else { "added" };
            format!("{verb}; {}{was}", verdict(outcome))
        }
        Entered::Statement { after: Err(e), .. } => {
            format!("added; the lead cannot be scored: {e}")
        }
    }
}

/// For each field a condition found missing whose name is close to one of the lead's own
/// keys: a line saying which (`titel` → `title`).
fn typos(trace: &leadscore::Trace, lead: &serde_json::Value) -> String {
    let keys: Vec<&str> = lead
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut out = String::new();
    for observation in &trace.looked_at {
        if let leadscore::Observation::Field { path, value: None } = observation {
            if let Some(key) = leadscore::check::did_you_mean(path, keys.iter().copied()) {
                out += &format!("\n  the lead has no `{path}`; did you mean `{key}`?");
            }
        }
    }
    out
}

/// `score 55 — not an MQL · fit 25, intent 30 · route sdr-queue`.
fn verdict(o: &leadscore::Outcome) -> String {
    let mut text = format!("score {} — ", num(o.score));
    text += &match (o.disqualified(), o.mql) {
        (Some(reason), _) => format!("disqualified ({reason})"),
        (None, true) => "MQL".to_string(),
        (None, false) => "not an MQL".to_string(),
    };
    if o.dimensions().len() > 0 {
        let dims: Vec<String> = o.dimensions().map(|(d, v)| format!("{d} {}", num(v))).collect();
        text += &format!(" · {}", dims.join(", "));
    }
    if let Some(route) = o.route() {
        text += &format!(" · route {route}");
    }
    text
}

fn num(x: f64) -> String {
    leadscore::show_number(x)
}

fn show_field(session: &Session, path: &str) -> String {
    let mut value = session.lead();
    for segment in path.split('.') {
        match value.get(segment.trim()) {
            Some(v) => value = v,
            None => return "?".into(),
        }
    }
    value.to_string()
}

/// `:event TYPE k=v ... [at=TIME]`.
fn event(session: &mut Session, rest: &str, color: bool) -> Answer {
    let words = split_words(rest);
    let Some((event_type, pairs)) = words.split_first() else {
        return Answer::fail(usage("event"));
    };
    let mut props = Vec::new();
    let mut at = None;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Answer::fail(format!("`{pair}` is not key=value; usage: {}", usage("event")));
        };
        if key == "at" {
            at = Some(value);
        } else {
            props.push((key, value));
        }
    }
    done(
        session
            .add_event(event_type, &props, at)
            .map(|e| format!("added {}", show_event(e))),
        color,
    )
}

/// Splits on blanks outside double quotes; quotes stay in the words.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `page_view path=/pricing at=2026-02-28T22:00:00Z`.
fn show_event(event: &serde_json::Value) -> String {
    let Some(map) = event.as_object() else {
        return event.to_string();
    };
    let mut text = map.get("type").and_then(|t| t.as_str()).unwrap_or("?").to_string();
    for (key, value) in map.iter().filter(|(k, _)| *k != "type" && *k != "at") {
        let value: Cow<str> = match value.as_str() {
            Some(s) if !s.contains(char::is_whitespace) => Cow::Borrowed(s),
            _ => Cow::Owned(value.to_string()),
        };
        text += &format!(" {key}={value}");
    }
    if let Some(at) = map.get("at").and_then(|a| a.as_str()) {
        text += &format!(" at={at}");
    }
    text
}

fn events(session: &Session) -> String {
    if session.events().is_empty() {
        return "no events".into();
    }
    session
        .events()
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{:>3}. {}\n", i + 1, show_event(e)))
        .collect()
}

fn rules(session: &Session) -> String {
    let rules = session.rules();
    let mut text = String::new();
    if rules.is_empty() {
        text += "no rules\n";
    }
    let width = rules.iter().map(|r| r.location.len()).max().unwrap_or(0);
    let name_width = rules.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).min(40);
    for r in &rules {
        text += &format!("{:<width$}  {:<name_width$}  => {}\n", r.location, r.name, r.actions);
    }
    let others: Vec<&String> = session.statements().iter().filter(|s| !s.contains("=>")).collect();
    if !others.is_empty() {
        text += "session statements:\n";
        for s in others {
            text += &format!("  {s}\n");
        }
    }
    text
}

/// Tab completion: commands, then field, `let` and dimension names; file names after
/// `:lead` and `:save`.
struct Completion {
    names: Vec<String>,
    files: FilenameCompleter,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.starts_with(":lead ") || before.starts_with(":save ") {
            return self.files.complete(line, pos, ctx);
        }
        let start = before
            .rfind(|c: char| c.is_whitespace() || "()[],=!<>~".contains(c))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let pair = |s: &str| Pair {
            display: s.to_string(),
            replacement: s.to_string(),
        };
        let candidates: Vec<Pair> = if start == 0 && word.starts_with(':') {
            COMMANDS
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| c.starts_with(word))
                .map(pair)
                .collect()
        } else {
            self.names
                .iter()
                .filter(|n| n.starts_with(word))
                .map(|n| pair(n))
                .collect()
        };
        Ok((start, candidates))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &str) -> (usize, Vec<String>) {
        let completion = Completion {
            names: vec!["company.size".into(), "senior".into(), "title".into()],
            files: FilenameCompleter::new(),
        };
        let history = rustyline::history::DefaultHistory::new();
        match completion.complete(line, line.len(), &Context::new(&history)) {
            Ok((start, pairs)) => (start, pairs.into_iter().map(|p| p.replacement).collect()),
            Err(e) => (usize::MAX, vec![e.to_string()]),
        }
    }

    #[test]
    fn completes_commands_and_names() {
        assert_eq!(complete(":cl"), (0, vec![":clear-events".to_string()]));
        assert_eq!(complete(":ev").1, [":event", ":events"]);
        assert_eq!(complete("title ~ VP and se"), (15, vec!["senior".to_string()]));
        assert_eq!(complete("(comp"), (1, vec!["company.size".to_string()]));
        assert_eq!(complete(":set ti"), (5, vec!["title".to_string()]));
    }

    #[test]
    fn words_keep_quotes_and_split_outside_them() {
        assert_eq!(
            split_words(r#"video_play video="product demo" at=-1d"#),
            ["video_play", "video=\"product demo\"", "at=-1d"]
        );
    }

    #[test]
    fn pasted_objects_gather_until_complete() {
        let mut pending = String::new();
        assert_eq!(gather(&mut pending, ":score"), Some(":score".to_string()));
        assert_eq!(gather(&mut pending, "{"), None);
        assert_eq!(gather(&mut pending, "  \"title\": \"VP\""), None);
        assert_eq!(
            gather(&mut pending, "}"),
            Some("{\n  \"title\": \"VP\"\n}\n".to_string())
        );
        assert!(pending.is_empty());
    }
}
