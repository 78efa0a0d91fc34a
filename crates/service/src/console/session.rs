//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie, kept in
//! memory (a restart logs everyone out), each with its CSRF token and the scopes of the
//! token it logged in with. Bounded: at most [`MAX_SESSIONS`], the least recently used
//! dropped first, and none kept past [`IDLE`] without use.
//! When full, a visitor who never logged in is dropped before a logged-in session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use crate::config::Scope;

/// The cookie's name.
pub const COOKIE: &str = "leadscore_session";
/// Most sessions kept at once (logged in or not).
pub const MAX_SESSIONS: usize = 10_000;
/// A session unused this long is gone.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);

/// One browser's session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The cookie's value.
    pub id: String,
    /// The name of the token it logged in with (`None`: not logged in, or the service
    /// runs without tokens).
    pub who: Option<String>,
    /// What it may do: nothing until logged in; everything without tokens.
    pub scopes: Vec<Scope>,
    /// The token every state-changing form carries.
    pub csrf: String,
}

impl Session {
    /// Whether it may do what `scope` allows.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether `given` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        given.len() == self.csrf.len() && bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

struct Entry {
    session: Arc<Session>,
    used: Instant,
}

/// Every session, by id.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sessions {
    /// The session of the request's cookie, if it is known and not idle too long.
    pub fn find(&self, headers: &HeaderMap) -> Option<Arc<Session>> {
        let id = cookie(headers)?;
        let mut map = lock(&self.map);
        let entry = map.get_mut(id)?;
        if entry.used.elapsed() > IDLE {
            map.remove(id);
            return None;
        }
        entry.used = Instant::now();
        Some(Arc::clone(&entry.session))
    }

    /// A new session with these scopes; `replacing` (the session it logs in from, or
    /// out of) is dropped, so an id seen before logging in is never a logged-in one.
    /// `None` when the system's random generator fails (no guessable id is ever made).
    pub fn start(&self, who: Option<String>, scopes: Vec<Scope>, replacing: Option<&str>) -> Option<Arc<Session>> {
        let session = Arc::new(Session {
            id: random_hex()?,
            who,
            scopes,
            csrf: random_hex()?,
        });
        let mut map = lock(&self.map);
        if let Some(old) = replacing {
            map.remove(old);
        }
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, e| e.used.elapsed() <= IDLE);
        }
        if map.len() >= MAX_SESSIONS {
            // Visitors who never logged in go first: a flood of cookie-less requests
            // cannot push out a logged-in session while there are anonymous ones.
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| (e.session.who.is_some(), e.used))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        map.insert(
            session.id.clone(),
            Entry {
                session: Arc::clone(&session),
                used: Instant::now(),
            },
        );
        Some(session)
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        lock(&self.map).remove(id);
    }
}

/// The `Set-Cookie` value for a session.
pub fn set_cookie(session: &Session) -> String {
    format!("{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict", session.id)
}

/// The session id in a request's `Cookie` headers.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// 32 bytes from the system's secure random generator, in hex.
fn random_hex() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_replaced_on_login() {
        let sessions = Sessions::default();
        let anonymous = sessions.start(None, vec![], None).unwrap();
        let mut headers = HeaderMap::new();
        let value = format!("other=1; {COOKIE}={}", anonymous.id);
        headers.insert(header::COOKIE, value.parse().unwrap());
        assert_eq!(sessions.find(&headers).unwrap().id, anonymous.id);
        let logged_in = sessions
            .start(Some("ops".into()), vec![Scope::Read], Some(&anonymous.id))
            .unwrap();
        assert!(sessions.find(&headers).is_none(), "the old id is gone");
        assert_ne!(logged_in.id, anonymous.id);
        assert!(logged_in.csrf_ok(&logged_in.csrf) && !logged_in.csrf_ok(&anonymous.csrf) && !logged_in.csrf_ok(""));
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let first = sessions.start(None, vec![], None).unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.start(None, vec![], None).unwrap();
        }
        assert_eq!(lock(&sessions.map).len(), MAX_SESSIONS);
        assert!(
            !lock(&sessions.map).contains_key(&first.id),
            "the least recently used went first"
        );
    }
}
