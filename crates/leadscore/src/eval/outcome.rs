//! The result of scoring one lead, built whole by [`super::evaluate`].
//!
//! A result refers to its names (the pack's id, dimensions, rule names and locations,
//! tags, reasons, queues) through one shared table, [`Names`], built once with the pack:
//! a lead's result takes one reference to it instead of a copy or a counted reference
//! per name (an atomic count is dearer than the rest of a small result), and answers
//! with `&str`s borrowed from it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::json_bytes::{json, number, optional, string};
use crate::program::Program;

/// Which pack produced a result: its name and a short hash of its sources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackId {
    /// The pack's name (its folder's name).
    pub name: Arc<str>,
    /// The first 8 hex digits of a hash of every rule and plugin file.
    pub version: Arc<str>,
}

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The names results refer to, shared by every result of a pack (or owned by one result
/// read back from JSON). Indices into it are `u32`s.
#[derive(Debug)]
pub(crate) struct Names {
    pack: PackId,
    /// Dimension names, sorted: the order a result lists its dimensions in.
    dims: Vec<Box<str>>,
    /// Per rule (a program's, by index; a read-back result's, by position in `fired`).
    rules: Vec<RuleNames>,
    /// Tags, disqualifying reasons and route queues, each text once.
    texts: Vec<Box<str>>,
    /// A program's dimension index → its position in `dims`.
    pub(super) dim_at: Vec<u32>,
    /// A program's route index → its queue in `texts`.
    pub(super) queues: Vec<u32>,
    /// The same names as a result line writes them, escaped once (`json.rs`).
    pub(super) json: Written,
}

/// A rule's names, and for a program's rule, its tags and reason in [`Names::texts`].
#[derive(Debug, Default)]
pub(crate) struct RuleNames {
    name: Box<str>,
    location: Box<str>,
    dimension: Option<Box<str>>,
    pub(super) tags: Vec<u32>,
    pub(super) reason: Option<u32>,
}

impl Names {
    /// The names of `program`'s results, made by the pack `pack`.
    pub(crate) fn new(program: &Program, pack: PackId) -> Names {
        let mut texts = Texts::default();
        let mut dims: Vec<(usize, &str)> = program.dims.iter().map(|d| &*d.name).enumerate().collect();
        dims.sort_by(|a, b| a.1.cmp(b.1));
        let mut dim_at = vec![0; dims.len()];
        for (at, &(d, _)) in dims.iter().enumerate() {
            dim_at[d] = at as u32;
        }
        let rules = program
            .rules
            .iter()
            .map(|rule| RuleNames {
                name: rule.name.as_ref().into(),
                location: rule.location.as_ref().into(),
                dimension: rule
                    .points
                    .first()
                    .and_then(|p| p.dim)
                    .map(|d| program.dims[d as usize].name.as_ref().into()),
                tags: rule.tags.iter().map(|t| texts.id(t)).collect(),
                reason: rule.disqualify.as_deref().map(|r| texts.id(r)),
            })
            .collect();
        let queues = program.routes.iter().map(|r| texts.id(&r.queue)).collect();
        Names {
            pack,
            dims: dims.into_iter().map(|(_, name)| name.into()).collect(),
            rules,
            texts: texts.list,
            dim_at,
            queues,
            json: Written::default(),
        }
        .written()
    }

    /// These names with their JSON written ([`Names::json`]): every constructor's last step.
    fn written(mut self) -> Names {
        let rules = self
            .rules
            .iter()
            .map(|r| (&*r.name, r.dimension.as_deref(), &*r.location));
        self.json = Written::new(&self.pack, &self.dims, rules, &self.texts);
        self
    }

    /// The pack whose results these are.
    pub(crate) fn pack(&self) -> &PackId {
        &self.pack
    }

    pub(super) fn rule(&self, index: usize) -> &RuleNames {
        &self.rules[index]
    }
}

impl Default for Names {
    /// No names, of an unnamed pack (a default [`Outcome`]'s).
    fn default() -> Names {
        Names {
            pack: PackId::default(),
            dims: Vec::new(),
            rules: Vec::new(),
            texts: Vec::new(),
            dim_at: Vec::new(),
            queues: Vec::new(),
            json: Written::default(),
        }
        .written()
    }
}

/// Texts each given an id once.
#[derive(Default)]
struct Texts {
    list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Texts {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }
}

/// The result of scoring one lead.
///
/// ```
/// # let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
/// let lead = serde_json::json!({"id": 1, "title": "VP Sales"});
/// let outcome = pack.score(&lead, leadscore::parse_time("2026-01-01T00:00:00Z").unwrap())?;
/// assert!(outcome.mql);
/// assert_eq!(outcome.fired().next().map(|f| f.rule()), Some("title ~ VP"));
/// assert_eq!(outcome.dimension("fit"), None);
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Outcome {
    /// The lead's id field, when it has one.
    pub id: Option<serde_json::Value>,
    /// Capped dimensions plus points given without a dimension.
    pub score: f64,
    /// The chance (0 to 1) that the lead converts, for a pack with a `calibrate` statement.
    pub probability: Option<f64>,
    /// The MQL condition holds and the lead is not disqualified.
    pub mql: bool,
    /// Dimensions whose total went over their cap.
    pub capped: Vec<Capped>,
    /// Fields added by plugin enrichment hooks.
    pub enriched: Vec<Enrichment>,
    pub(super) names: Arc<Names>,
    /// The first disqualifying reason, in `names.texts`.
    pub(super) disqualified: Option<u32>,
    /// Each dimension's total after its cap, in the order of `names.dims`.
    pub(super) dimensions: Vec<f64>,
    /// The route's queue, in `names.texts`.
    pub(super) route: Option<u32>,
    /// The tags, in `names.texts`, in firing order.
    pub(super) tags: Vec<u32>,
    pub(super) fired: Vec<Firing>,
}

/// A fired rule as a result keeps it: its numbers, its names by index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Firing {
    /// Its entry in the result's [`Names::rules`].
    pub(super) names: u32,
    pub(super) index: usize,
    pub(super) points: f64,
    pub(super) count: Option<u64>,
    pub(super) decay: Option<f64>,
}

impl Outcome {
    /// The pack that produced this result.
    pub fn pack(&self) -> &PackId {
        &self.names.pack
    }

    /// The reason of the first disqualifying rule, in file order.
    pub fn disqualified(&self) -> Option<&str> {
        self.disqualified.map(|t| self.text(t))
    }

    /// Each dimension and its total after its cap, by name.
    pub fn dimensions(&self) -> impl ExactSizeIterator<Item = (&str, f64)> + Clone + '_ {
        self.names
            .dims
            .iter()
            .map(|d| &**d)
            .zip(self.dimensions.iter().copied())
    }

    /// One dimension's total after its cap.
    pub fn dimension(&self, name: &str) -> Option<f64> {
        let at = self.names.dims.binary_search_by(|d| (**d).cmp(name)).ok()?;
        self.dimensions.get(at).copied()
    }

    /// The queue of the first matching route (MQLs only).
    pub fn route(&self) -> Option<&str> {
        self.route.map(|t| self.text(t))
    }

    /// Tags of the rules that fired, in firing order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.tags.iter().map(|&t| self.text(t))
    }

    /// The rules that fired, in file order.
    pub fn fired(&self) -> impl ExactSizeIterator<Item = Fired<'_>> + DoubleEndedIterator + Clone + '_ {
        self.fired.iter().map(|firing| Fired {
            names: &self.names.rules[firing.names as usize],
            firing,
        })
    }

    fn text(&self, id: u32) -> &str {
        &self.names.texts[id as usize]
    }
}

/// A rule that fired, as a result lists it.
#[derive(Clone, Copy)]
pub struct Fired<'a> {
    names: &'a RuleNames,
    firing: &'a Firing,
}

impl<'a> Fired<'a> {
    /// Its name, or its condition's text.
    pub fn rule(&self) -> &'a str {
        &self.names.name
    }

    /// Points given (after `each`, `max` and decay).
    pub fn points(&self) -> f64 {
        self.firing.points
    }

    /// The dimension the points went into.
    pub fn dimension(&self) -> Option<&'a str> {
        self.names.dimension.as_deref()
    }

    /// `file:line` of the rule.
    pub fn location(&self) -> &'a str {
        &self.names.location
    }

    /// The rule's index in the program's rules (see [`crate::Program::rules`]). Not
    /// serialized: an outcome read back from JSON has index 0 and is matched by location.
    pub fn index(&self) -> usize {
        self.firing.index
    }

    /// For `each` rules: the number of events counted.
    pub fn count(&self) -> Option<u64> {
        self.firing.count
    }

    /// For decayed rules: the factor applied.
    pub fn decay(&self) -> Option<f64> {
        self.firing.decay
    }
}

impl PartialEq for Fired<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.rule(), self.location(), self.dimension()) == (other.rule(), other.location(), other.dimension())
            && (self.points(), self.index(), self.count(), self.decay())
                == (other.points(), other.index(), other.count(), other.decay())
    }
}

impl fmt::Debug for Fired<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fired")
            .field("rule", &self.rule())
            .field("points", &self.points())
            .field("dimension", &self.dimension())
            .field("location", &self.location())
            .field("index", &self.index())
            .field("count", &self.count())
            .field("decay", &self.decay())
            .finish()
    }
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        (&self.id, self.score, self.probability, self.mql) == (&other.id, other.score, other.probability, other.mql)
            && (self.disqualified(), self.route()) == (other.disqualified(), other.route())
            && self.dimensions().eq(other.dimensions())
            && self.tags().eq(other.tags())
            && self.fired().eq(other.fired())
            && (&self.capped, &self.enriched, self.pack()) == (&other.capped, &other.enriched, other.pack())
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("id", &self.id)
            .field("score", &self.score)
            .field("probability", &self.probability)
            .field("mql", &self.mql)
            .field("disqualified", &self.disqualified())
            .field("dimensions", &self.dimensions().collect::<Vec<_>>())
            .field("route", &self.route())
            .field("tags", &self.tags().collect::<Vec<_>>())
            .field("fired", &self.fired().collect::<Vec<_>>())
            .field("capped", &self.capped)
            .field("enriched", &self.enriched)
            .field("pack", self.pack())
            .finish()
    }
}

/// A dimension whose total was cut to its cap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capped {
    /// The dimension.
    pub dimension: String,
    /// Its total before the cap.
    #[serde(serialize_with = "whole")]
    pub total: f64,
    /// The cap.
    #[serde(serialize_with = "whole")]
    pub cap: f64,
}

/// The fields one plugin's enrichment hook set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The plugin.
    pub plugin: String,
    /// Field → value it set.
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// An outcome as JSON has it, borrowed to serialize: the one description of its fields'
/// names, order and omissions (`write_json` writes the same bytes by hand).
#[derive(Serialize)]
#[serde(rename = "Outcome")]
struct Shape<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a serde_json::Value>,
    #[serde(serialize_with = "whole")]
    score: f64,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "whole_opt")]
    probability: Option<f64>,
    mql: bool,
    disqualified: Option<&'a str>,
    dimensions: Dimensions<'a>,
    route: Option<&'a str>,
    tags: Tags<'a>,
    fired: FiredList<'a>,
    #[serde(skip_serializing_if = "empty")]
    capped: &'a [Capped],
    #[serde(skip_serializing_if = "empty")]
    enriched: &'a [Enrichment],
    pack: &'a PackId,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Shape {
            id: self.id.as_ref(),
            score: self.score,
            probability: self.probability,
            mql: self.mql,
            disqualified: self.disqualified(),
            dimensions: Dimensions(self),
            route: self.route(),
            tags: Tags(self),
            fired: FiredList(self),
            capped: &self.capped,
            enriched: &self.enriched,
            pack: self.pack(),
        }
        .serialize(s)
    }
}

fn empty<T>(list: &&[T]) -> bool {
    list.is_empty()
}

/// The parts of an outcome serialized from their accessors.
struct Dimensions<'a>(&'a Outcome);
struct Tags<'a>(&'a Outcome);
struct FiredList<'a>(&'a Outcome);

impl Serialize for Dimensions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.dimensions().map(|(d, v)| (d, crate::value::num_to_json(v))))
    }
}

impl Serialize for Tags<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.tags())
    }
}

impl Serialize for FiredList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.fired())
    }
}

/// A fired rule as JSON has it, borrowed to serialize.
#[derive(Serialize)]
#[serde(rename = "Fired")]
struct FiredShape<'a> {
    rule: &'a str,
    #[serde(serialize_with = "whole")]
    points: f64,
    dimension: Option<&'a str>,
    location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "whole_opt")]
    decay: Option<f64>,
}

impl Serialize for Fired<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FiredShape {
            rule: self.rule(),
            points: self.points(),
            dimension: self.dimension(),
            location: self.location(),
            count: self.count(),
            decay: self.decay(),
        }
        .serialize(s)
    }
}

/// An outcome as JSON has it, owned, to read one back.
#[derive(Deserialize)]
struct Read {
    #[serde(default)]
    id: Option<serde_json::Value>,
    score: f64,
    #[serde(default)]
    probability: Option<f64>,
    mql: bool,
    disqualified: Option<String>,
    dimensions: BTreeMap<String, f64>,
    route: Option<String>,
    tags: Vec<String>,
    fired: Vec<ReadFired>,
    #[serde(default)]
    capped: Vec<Capped>,
    #[serde(default)]
    enriched: Vec<Enrichment>,
    pack: PackId,
}

#[derive(Deserialize)]
struct ReadFired {
    rule: String,
    points: f64,
    dimension: Option<String>,
    location: String,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    decay: Option<f64>,
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Read::deserialize(d).map(Outcome::from)
    }
}

impl From<Read> for Outcome {
    /// A result read back gets a table of names of its own.
    fn from(read: Read) -> Outcome {
        let mut texts = Texts::default();
        let tags = read.tags.iter().map(|t| texts.id(t)).collect();
        let disqualified = read.disqualified.as_deref().map(|r| texts.id(r));
        let route = read.route.as_deref().map(|q| texts.id(q));
        let (dims, dimensions) = read
            .dimensions
            .into_iter()
            .map(|(d, v)| (d.into_boxed_str(), v))
            .unzip();
        let (rules, fired) = read
            .fired
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let names = RuleNames {
                    name: f.rule.into(),
                    location: f.location.into(),
                    dimension: f.dimension.map(String::into_boxed_str),
                    ..RuleNames::default()
                };
                let firing = Firing {
                    names: i as u32,
                    index: 0,
                    points: f.points,
                    count: f.count,
                    decay: f.decay,
                };
                (names, firing)
            })
            .unzip();
        let names = Names {
            pack: read.pack,
            dims,
            rules,
            texts: texts.list,
            dim_at: Vec::new(),
            queues: Vec::new(),
            json: Written::default(),
        }
        .written();
        Outcome {
            id: read.id,
            score: read.score,
            probability: read.probability,
            mql: read.mql,
            capped: read.capped,
            enriched: read.enriched,
            names: Arc::new(names),
            disqualified,
            dimensions,
            route,
            tags,
            fired,
        }
    }
}

/// Serializes whole numbers without `.0` (`20`, not `20.0`).
fn whole<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    crate::value::num_to_json(*x).serialize(s)
}

fn whole_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    x.map(crate::value::num_to_json).serialize(s)
}

/// A table of names (`outcome.rs`'s `Names`) as a result line writes them, escaped once
/// into one buffer: each dimension as a key (`"fit":`), each text as a string, each rule's
/// fired entry around its points (`{"rule":…,"points":` and `,"dimension":…,"location":…`),
/// and the line's end (`,"pack":{…}}`).
#[derive(Debug, Default)]
pub(crate) struct Written {
    bytes: Vec<u8>,
    pub(super) dims: Vec<Range<u32>>,
    texts: Vec<Range<u32>>,
    /// Per rule: its entry's bytes before the points, and after them.
    rules: Vec<(Range<u32>, Range<u32>)>,
    pack: Range<u32>,
}

impl Written {
    /// The JSON of a table's names: its pack, dimensions (sorted), rules (name, dimension
    /// and location each) and texts.
    pub(super) fn new<'n>(
        pack: &PackId,
        dims: &[Box<str>],
        rules: impl Iterator<Item = (&'n str, Option<&'n str>, &'n str)>,
        texts: &[Box<str>],
    ) -> Written {
        let mut written = Written::default();
        written.dims = dims
            .iter()
            .map(|dim| {
                written.add(|out| {
                    string(out, dim);
                    out.push(b':');
                })
            })
            .collect();
        written.texts = texts.iter().map(|text| written.add(|out| string(out, text))).collect();
        written.rules = rules
            .map(|(name, dimension, location)| {
                let head = written.add(|out| {
                    out.extend_from_slice(b"{\"rule\":");
                    string(out, name);
                    out.extend_from_slice(b",\"points\":");
                });
                let tail = written.add(|out| {
                    out.extend_from_slice(b",\"dimension\":");
                    optional(out, dimension);
                    out.extend_from_slice(b",\"location\":");
                    string(out, location);
                });
                (head, tail)
            })
            .collect();
        written.pack = written.add(|out| {
            out.extend_from_slice(b",\"pack\":{\"name\":");
            string(out, &pack.name);
            out.extend_from_slice(b",\"version\":");
            string(out, &pack.version);
            out.extend_from_slice(b"}}");
        });
        written
    }

    /// Appends what `write` writes, and says where it is.
    fn add(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Range<u32> {
        let start = self.bytes.len() as u32;
        write(&mut self.bytes);
        start..self.bytes.len() as u32
    }

    pub(super) fn get(&self, range: &Range<u32>) -> &[u8] {
        &self.bytes[range.start as usize..range.end as usize]
    }

    pub(super) fn text(&self, id: u32) -> &[u8] {
        self.get(&self.texts[id as usize])
    }

    pub(super) fn pack(&self) -> &[u8] {
        self.get(&self.pack)
    }

    /// A text by its id, or `null`.
    pub(super) fn optional(&self, out: &mut Vec<u8>, text: Option<u32>) {
        match text {
            Some(id) => out.extend_from_slice(self.text(id)),
            None => out.extend_from_slice(b"null"),
        }
    }

    /// A fired rule's entry (what `Fired`'s `Serialize` gives).
    pub(super) fn fired(&self, out: &mut Vec<u8>, firing: &Firing) {
        let (head, tail) = &self.rules[firing.names as usize];
        out.extend_from_slice(self.get(head));
        number(out, firing.points);
        out.extend_from_slice(self.get(tail));
        if let Some(count) = firing.count {
            out.extend_from_slice(b",\"count\":");
            json(out, &count);
        }
        if let Some(decay) = firing.decay {
            out.extend_from_slice(b",\"decay\":");
            number(out, decay);
        }
        out.push(b'}');
    }
}
