//! The console under `/ui/`: server-rendered pages for marketing ops and sales managers
//! (the queue, a lead, the funnel, the pack, trying a lead), from templates compiled into
//! the binary with their stylesheet and script (no CDN, nothing fetched at run time).
//!
//! Security, in one place (this file): every page answers with a Content-Security-Policy
//! that allows only the console's own script and stylesheet; with `--token-file` a visitor
//! logs in with a token and gets a session (`session.rs`) with that token's scopes; every
//! state-changing form carries the session's CSRF token, checked before anything is done;
//! what a page shows (action buttons) and what a form may do follow the scopes, checked
//! here on the server whatever the page showed. The templates escape every value.

mod pages;
pub mod session;

use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;

use super::config::Scope;
use super::http::{find, App};
use session::{set_cookie, Session, Sessions};

/// The policy every console answer carries: scripts, styles and fetches from the
/// console itself only; no frames, no plugins, forms posted only to the console.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("../../assets/console.css");
const SCRIPT: &str = include_str!("../../assets/console.js");

type Shared = State<Arc<App>>;

/// The console's routes, each behind the session layer.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    let limit = app.settings.limits.body_bytes;
    let state = Console {
        app,
        sessions: Arc::new(Sessions::default()),
    };
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::queue))
        .route("/ui/queue/rows", get(pages::queue_rows))
        .route("/ui/leads/{id}", get(pages::lead))
        .route("/ui/leads/{id}/stage", post(pages::stage))
        .route("/ui/try", get(pages::try_form).post(pages::try_lead))
        .route("/ui/funnel", get(pages::funnel_page))
        .route("/ui/pack", get(pages::pack))
        .route("/ui/pack/reload", post(pages::reload))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route(
            "/ui/assets/console.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
        .route(
            "/ui/assets/console.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state, sessions))
}

/// What the session layer holds: the service, and the sessions (which handlers reach as
/// an extension).
#[derive(Clone)]
struct Console {
    app: Arc<App>,
    sessions: Arc<Sessions>,
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Finds or starts the request's session, sends a visitor who is not logged in (with
/// tokens configured) to the login page, and adds the security headers to every answer.
async fn sessions(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let open = console.app.settings.tokens.is_empty();
    let store = &console.sessions;
    let found = store.find(request.headers());
    let (session, new) = match found {
        Some(s) => (s, false),
        None => {
            let scopes = if open { Scope::ALL.to_vec() } else { Vec::new() };
            match store.start(None, scopes, None) {
                Some(s) => (s, true),
                None => return Failure::unavailable("no session could be made").into_response(),
            }
        }
    };
    let path = request.uri().path();
    let public = matches!(path, "/ui/login" | "/ui/logout") || path.starts_with("/ui/assets/");
    let mut response = if !open && !public && session.who.is_none() {
        Redirect::to("/ui/login").into_response()
    } else if !public && !session.may(Scope::Read) {
        Failure::forbidden("your token does not have the `read` scope the console needs").into_response()
    } else {
        request.extensions_mut().insert(Arc::clone(&session));
        request.extensions_mut().insert(Arc::clone(store));
        next.run(request).await
    };
    let headers = response.headers_mut();
    if new && !headers.contains_key(header::SET_COOKIE) {
        if let Ok(v) = HeaderValue::from_str(&set_cookie(&session)) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// What every page shows around its content: the navigation, who is logged in, the
/// CSRF token for its forms, and what the session may do.
pub struct Chrome {
    /// The page, for `aria-current` in the navigation.
    pub page: &'static str,
    /// The token's name, when logged in with one.
    pub who: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// May act on leads (accept, reject, recycle).
    pub sales: bool,
    /// May publish the pack.
    pub admin: bool,
}

impl Chrome {
    /// The chrome of `page` for `session`.
    pub fn of(page: &'static str, session: &Session) -> Chrome {
        Chrome {
            page,
            who: session.who.clone(),
            csrf: session.csrf.clone(),
            sales: session.may(Scope::Sales),
            admin: session.may(Scope::Admin),
        }
    }

    /// Whether `page` is this one (for the navigation).
    pub fn is(&self, page: &str) -> bool {
        self.page == page
    }
}

/// A page that could not be shown, as a page: its status and what went wrong.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    /// A failure with `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
        }
    }

    /// 503: the service cannot do it now.
    pub fn unavailable(message: impl Into<String>) -> Failure {
        Failure::new(503, message)
    }

    /// 403: the session lacks `scope`, or the form lacks the CSRF token.
    pub fn forbidden(message: impl Into<String>) -> Failure {
        Failure::new(403, message)
    }
}

impl From<super::error::ApiError> for Failure {
    fn from(e: super::error::ApiError) -> Failure {
        Failure::new(e.status, e.message)
    }
}

impl From<super::storage::StorageError> for Failure {
    fn from(e: super::storage::StorageError) -> Failure {
        Failure::from(super::error::ApiError::from(e))
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            message: &self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// A template rendered, or a plain 500 if it cannot be (a bug in a template's data).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be drawn: {e}"),
        )
            .into_response(),
    }
}

/// Refuses a form without this session's CSRF token, or a session without `scope`.
pub fn allowed(session: &Session, csrf: &str, scope: Scope) -> Result<(), Failure> {
    if !session.csrf_ok(csrf) {
        return Err(Failure::forbidden(
            "this form is out of date or did not come from the console; reload the page and try again",
        ));
    }
    if !session.may(scope) {
        return Err(Failure::forbidden(format!(
            "your token does not have the `{}` scope",
            scope.name()
        )));
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<&'static str>,
}

async fn login_form(State(app): Shared, Extension(session): Extension<Arc<Session>>) -> Response {
    if app.settings.tokens.is_empty() || !session.scopes.is_empty() {
        return Redirect::to("/ui/").into_response();
    }
    render(&LoginPage {
        csrf: session.csrf.clone(),
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// Logs in with a token: a new session (a new id) with the token's scopes.
async fn login(
    State(app): Shared,
    Extension(sessions): Extension<Arc<Sessions>>,
    Extension(session): Extension<Arc<Session>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let refuse = |error| {
        let page = LoginPage {
            csrf: session.csrf.clone(),
            error: Some(error),
        };
        (StatusCode::UNAUTHORIZED, render(&page)).into_response()
    };
    if !session.csrf_ok(&form.csrf) {
        return refuse("The form was out of date; enter the token again.");
    }
    let Some(token) = find(&app.settings.tokens, form.token.trim()) else {
        return refuse("That token is not known to this service.");
    };
    let Some(new) = sessions.start(Some(token.name.clone()), token.scopes.clone(), Some(&session.id)) else {
        return Failure::unavailable("no session could be made").into_response();
    };
    let mut response = Redirect::to("/ui/").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&new)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    Extension(sessions): Extension<Arc<Sessions>>,
    Extension(session): Extension<Arc<Session>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(&form.csrf) {
        return Failure::forbidden("this form did not come from the console").into_response();
    }
    sessions.end(&session.id);
    let mut response = Redirect::to("/ui/login").into_response();
    let expired = format!("{}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0", session::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
