//! `leadscore explain --pack PACK LEAD.json`: one lead's score as a table — each rule
//! that fired with its points, dimension and location, then the total, caps, the MQL
//! condition and the route.

use std::io::{Read, Write};
use std::path::PathBuf;

use super::{as_of, load_pack, Exit, Failure, PackArgs};

/// Arguments of `explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// Score as of this RFC 3339 time (default: now).
    #[arg(long = "as-of", value_name = "TIME")]
    as_of: Option<String>,
    /// The lead: a JSON file holding one object; `-` reads standard input.
    lead: PathBuf,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// Scores the lead and prints its explanation.
pub fn run(args: &ExplainArgs) -> Result<Exit, Failure> {
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let as_of = as_of(args.as_of.as_deref())?;
    let text = read(&args.lead)?;
    let lead: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure(format!("error: {} is not a JSON lead: {e}", args.lead.display())))?;
    match pack.score(&lead, as_of) {
        Ok(outcome) => {
            write!(
                super::stdout(),
                "{}",
                leadscore::show_rendered(&pack.explain(&outcome).to_string())
            )?;
            Ok(Exit::Success)
        }
        Err(e) => {
            errln!("error: {} cannot be scored: {e}", args.lead.display());
            Ok(Exit::Partial)
        }
    }
}

/// The lead's text: a file through the bounded opener, or standard input up to the same
/// limit.
fn read(path: &std::path::Path) -> Result<String, Failure> {
    let max = leadscore::file::DEFAULT_MAX_FILE_BYTES;
    if path.as_os_str() != "-" {
        return leadscore::file::read_text(path, max).map_err(|e| Failure(format!("error: {e}")));
    }
    let mut text = String::new();
    std::io::stdin()
        .take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure(format!("error: cannot read standard input: {e}")))?;
    if text.len() as u64 > max {
        return Err(Failure(format!(
            "error: the lead on standard input is larger than {max} bytes"
        )));
    }
    Ok(text)
}
