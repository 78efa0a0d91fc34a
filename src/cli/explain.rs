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
            write!(std::io::stdout(), "{}", pack.explain(&outcome))?;
            Ok(Exit::Success)
        }
        Err(e) => {
            errln!("error: {} cannot be scored: {e}", args.lead.display());
            Ok(Exit::Partial)
        }
    }
}

fn read(path: &PathBuf) -> Result<String, Failure> {
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map(|_| ())
    };
    result.map_err(|e| Failure(format!("error: cannot read {}: {e}", path.display())))?;
    Ok(text)
}
