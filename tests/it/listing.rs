//! A program listing without rule locations, to compare a pack before and after
//! `leadscore fmt` (formatting moves rules between lines). Shared with the fuzz target
//! `parse_check`, which includes this file.

/// The pack's program listing with each rule's `(file:line)` taken out.
pub fn listing(pack: &leadscore::Pack) -> String {
    pack.program()
        .to_string()
        .lines()
        .map(|line| match (line.find(" ("), line.find(") when ")) {
            (Some(a), Some(b)) if line.starts_with("rule ") && a < b => format!("{}{}", &line[..a], &line[b + 1..]),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
