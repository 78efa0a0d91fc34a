//! Business-hours SLAs through the binary (issue 23): the clock counts only the working
//! hours of the route's days in its time zone. The server's clock cannot be set, so the
//! calendars are built around today: a route whose only working day is tomorrow (in UTC,
//! and in Kiritimati, UTC+14, where tomorrow is another date) is due at that day's
//! opening plus the SLA, whatever the time now. The arithmetic across weekends and
//! daylight-saving changes is unit-tested in `crates/leadscore/src/value/hours.rs`.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::json;

use super::*;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Tomorrow at `offset` hours from UTC: its date and its weekday's name.
fn tomorrow(offset: i64) -> (NaiveDate, &'static str) {
    let date = (Utc::now() + Duration::hours(offset)).date_naive() + Duration::days(1);
    (date, DAYS[date.weekday().num_days_from_monday() as usize])
}

/// 09:30 on `date` at `offset` hours from UTC, in RFC 3339 UTC as the service writes it.
fn half_past_nine(date: NaiveDate, offset: i64) -> String {
    let local = date.and_hms_opt(9, 30, 0).unwrap();
    let utc = local - Duration::hours(offset);
    format!("{}Z", utc.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_hours_sla_is_due_after_working_time_in_the_routes_zone() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [("utc", "UTC", 0), ("kiritimati", "Pacific/Kiritimati", 14)];
    let before: Vec<String> = cases
        .iter()
        .map(|(_, _, o)| half_past_nine(tomorrow(*o).0, *o))
        .collect();
    let mut pack = String::from(
        "threshold 30\nrule \"Senior\": title ~ VP => +20\nrule \"Pricing\": visited /pricing within 7d => +15\n",
    );
    for (queue, zone, offset) in cases {
        let day = tomorrow(offset).1;
        pack.push_str(&format!(
            "route \"{queue}\" when region == \"{queue}\" sla 30m business {day} 09:00-10:00 \"{zone}\"\n"
        ));
    }
    pack.push_str("route \"rest\" sla 2h\n");
    let pack = pack_dir(dir.path(), &pack);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    let http = client();
    let mut due = Vec::new();
    for (queue, _, _) in cases {
        let url = server.url(&format!("/v1/leads/{queue}-lead"));
        let (status, body) = call(http.put(&url).json(&json!({"title": "VP", "region": queue}))).await;
        assert_eq!(status, 200, "{body}");
        let event = json!({"type": "page_view", "path": "/pricing"});
        let (status, body) = call(http.post(format!("{url}/events")).json(&event)).await;
        assert_eq!((status, body["stage"].as_str()), (200, Some("mql")), "{body}");
        let (_, lead) = call(http.get(&url)).await;
        assert_eq!(lead["standing"]["route"], queue, "{lead}");
        due.push(lead["standing"]["sla_due"].as_str().unwrap().to_string());
    }
    let after: Vec<String> = cases
        .iter()
        .map(|(_, _, o)| half_past_nine(tomorrow(*o).0, *o))
        .collect();
    for (i, d) in due.iter().enumerate() {
        assert!(
            d == &before[i] || d == &after[i],
            "{}: due {d}, expected {}",
            cases[i].0,
            before[i]
        );
    }
    // The transition says the same; a wall-clock SLA is still plain addition.
    let transitions = all_transitions(&http, &server).await;
    let sla_dues: Vec<&str> = transitions.iter().map(|t| t["sla_due"].as_str().unwrap()).collect();
    assert_eq!(sla_dues, due.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn bad_working_hours_and_unknown_zones_are_check_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(
        dir.path(),
        "threshold 30\nroute \"a\" when score > 50 sla 4h business Mon-Fri 17:00-09:00 \"UTC\"\nroute \"b\" sla 4h business Sun-Thu 09:00-17:00 \"Mars/Olympus\"\n",
    );
    let out = Command::new(BIN).arg("check").arg(&pack).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("working hours 17:00-09:00 are not a part of one day"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown time zone \"Mars/Olympus\""), "{stderr}");
}
