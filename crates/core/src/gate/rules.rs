//! Which requests need a key, and which scopes: routes matched by host,
//! scheme, method and path, in order, and a default for the rest.

use http::Method;
use serde::Deserialize;

use super::original::Original;
use crate::{error::ConfigError, scope::ScopeRequirement, Authenticator};

/// What a route asks of a request.
#[derive(Debug, Clone)]
pub(super) enum Access {
    /// Open to all: no key is read.
    Open,
    /// A valid key, with the scopes of the requirement if there is one.
    Key(Option<ScopeRequirement>),
    /// Refused whatever key it carries (the default of a rule set).
    Closed,
}

/// One route: the requests it matches and what it asks of them.
#[derive(Debug, Clone)]
pub struct Route {
    host: Option<String>,
    scheme: Option<String>,
    methods: Vec<Method>,
    path: PathPattern,
    access: Access,
    cost: u64,
}

/// `/orders` matches that path alone; `/orders/*` matches `/orders` and
/// every path under it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathPattern {
    Exact(String),
    Under(String),
}

impl PathPattern {
    fn parse(pattern: &str) -> Result<Self, ConfigError> {
        if !pattern.starts_with('/') || pattern.contains(['?', '#']) {
            return Err(ConfigError::Rule(format!(
                "path {pattern:?} must start with / and hold no query"
            )));
        }
        Ok(match pattern.strip_suffix("/*") {
            Some(base) => Self::Under(base.to_owned()),
            None if pattern.contains('*') => {
                return Err(ConfigError::Rule(format!(
                    "path {pattern:?}: a * may only end it, as /*"
                )))
            }
            None => Self::Exact(pattern.to_owned()),
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Under(base) => {
                path == base
                    || base.is_empty()
                    || path
                        .strip_prefix(base.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

impl Route {
    /// Requests whose path matches `path` (`/orders` exactly, `/orders/*`
    /// that path and everything under it), any method, any host.
    pub fn path(path: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            host: None,
            scheme: None,
            methods: Vec::new(),
            path: PathPattern::parse(path)?,
            access: Access::Key(None),
            cost: 1,
        })
    }

    /// Only requests for `host` (compared without port, in any case).
    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.trim().to_ascii_lowercase());
        self
    }

    /// Only requests the client made over `scheme` (`http` or `https`, in
    /// any case), as a trusted gateway says in `X-Forwarded-Proto` or
    /// `X-Original-URL`; a request whose scheme is not said matches no such
    /// route.
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.scheme = Some(scheme.trim().to_ascii_lowercase());
        self
    }

    /// Only requests with one of `methods`.
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// Open to all: no key is asked for.
    pub fn open(mut self) -> Self {
        self.access = Access::Open;
        self
    }

    /// Refused whatever key it carries (401 without a valid key, 403 with
    /// one): the default's answer, for a route before broader ones (plain
    /// `http`, say, where a key would travel in the clear).
    pub fn closed(mut self) -> Self {
        self.access = Access::Closed;
        self
    }

    /// A key with the scopes `requirement` asks for
    /// ([`Authenticator::require_all`](crate::Authenticator::require_all) or
    /// [`require_any`](crate::Authenticator::require_any)).
    pub fn require(mut self, requirement: ScopeRequirement) -> Self {
        self.access = Access::Key(Some(requirement));
        self
    }

    /// Costs a key that has [usage credits](crate::store::Credits) `cost`
    /// of them, rather than one; 0 makes the route free (let through even
    /// with none left). Open and closed routes cost nothing.
    pub fn cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }

    fn matches(&self, original: &Original) -> bool {
        self.path.matches(&original.path)
            && (self.methods.is_empty() || self.methods.contains(&original.method))
            && self
                .host
                .as_ref()
                .is_none_or(|host| original.host.as_deref() == Some(host.as_str()))
            && self
                .scheme
                .as_ref()
                .is_none_or(|scheme| original.scheme.as_deref() == Some(scheme.as_str()))
    }
}

/// Routes in order (the first that matches decides) and a default for a
/// request no route matches: closed unless said otherwise.
#[derive(Debug, Clone)]
pub struct Rules {
    routes: Vec<Route>,
    default: Access,
}

impl Default for Rules {
    /// Every request needs a valid key, whatever its scopes.
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            default: Access::Key(None),
        }
    }
}

impl Rules {
    /// `routes`, and every other request refused (401 without a key, 403
    /// with one).
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Self {
        Self {
            routes: routes.into_iter().collect(),
            default: Access::Closed,
        }
    }

    /// A request no route matches needs a valid key, as with no rules.
    pub fn otherwise_any_key(mut self) -> Self {
        self.default = Access::Key(None);
        self
    }

    /// Rules from their TOML form, with `auth` making the routes' scope
    /// requirements:
    ///
    /// ```toml
    /// default = "closed"            # or "key": any valid key passes
    ///
    /// [[route]]
    /// path = "/health"
    /// open = true                   # no key asked
    ///
    /// [[route]]
    /// host = "api.example.com"      # optional
    /// scheme = "https"              # optional, as the gateway says
    /// methods = ["GET", "HEAD"]     # optional
    /// path = "/orders/*"            # the path and everything under it
    /// all_of = ["orders:read"]      # or any_of = [...]; neither: any key
    /// cost = 5                      # usage credits a request spends (1 unless said)
    ///
    /// [[route]]
    /// scheme = "http"
    /// path = "/*"
    /// closed = true                 # refused whatever the key
    /// ```
    ///
    /// An error names the line and what is wrong with it.
    pub fn from_toml(text: &str, auth: &Authenticator) -> Result<Self, ConfigError> {
        let file: RulesFile = toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let what = err.message().trim().replace('\n', " ");
            ConfigError::Rule(match line {
                Some(line) => format!("line {line}: {what}"),
                None => what,
            })
        })?;
        let routes = file
            .route
            .into_iter()
            .enumerate()
            .map(|(n, route)| {
                route
                    .build(auth)
                    .map_err(|err| ConfigError::Rule(format!("route {}: {err}", n + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Self::new(routes);
        if file.default == DefaultFile::Key {
            rules = rules.otherwise_any_key();
        }
        Ok(rules)
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there is no route (the default decides every request).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// What `original` is asked, and what it costs a key with usage
    /// credits.
    pub(super) fn access(&self, original: &Original) -> (&Access, u64) {
        self.routes
            .iter()
            .find(|route| route.matches(original))
            .map_or((&self.default, 1), |route| (&route.access, route.cost))
    }
}

/// The TOML form of [`Rules`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    default: DefaultFile,
    #[serde(default)]
    route: Vec<RouteFile>,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum DefaultFile {
    #[default]
    Closed,
    Key,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    path: String,
    host: Option<String>,
    scheme: Option<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    open: bool,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    all_of: Vec<String>,
    #[serde(default)]
    any_of: Vec<String>,
    cost: Option<u64>,
}

impl RouteFile {
    fn build(self, auth: &Authenticator) -> Result<Route, String> {
        let mut route = Route::path(&self.path).map_err(|err| err.to_string())?;
        if let Some(host) = &self.host {
            route = route.host(host);
        }
        if let Some(scheme) = &self.scheme {
            if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
                return Err(format!("scheme {scheme:?} is neither http nor https"));
            }
            route = route.scheme(scheme);
        }
        let methods = self
            .methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("{m:?} is not an HTTP method"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        route = route.methods(methods);
        let scoped = !self.all_of.is_empty() || !self.any_of.is_empty();
        if self.cost.is_some() && (self.open || self.closed) {
            return Err("an open or closed route spends no credits: it takes no cost".into());
        }
        route = route.cost(self.cost.unwrap_or(1));
        if self.closed {
            if self.open || scoped {
                return Err("a closed route is neither open nor asks for scopes".into());
            }
            return Ok(route.closed());
        }
        if self.open {
            if scoped {
                return Err("an open route asks for no scopes".into());
            }
            return Ok(route.open());
        }
        let requirement = match (self.all_of.is_empty(), self.any_of.is_empty()) {
            (true, true) => return Ok(route),
            (false, true) => auth.require_all(self.all_of),
            (true, false) => auth.require_any(self.any_of),
            (false, false) => return Err("all_of or any_of, not both".into()),
        };
        requirement
            .map(|requirement| route.require(requirement))
            .map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(method: Method, host: &str, path: &str) -> Original {
        Original {
            method,
            path: path.into(),
            host: Some(host.into()),
            scheme: None,
            readable: true,
        }
    }

    #[test]
    fn the_first_matching_route_decides_and_the_default_closes() {
        let rules = Rules::new([
            Route::path("/health").unwrap().open(),
            Route::path("/admin/*")
                .unwrap()
                .host("API.example.com")
                .methods([Method::DELETE]),
            Route::path("/*").unwrap().host("api.example.com"),
        ]);
        let at = |method, host, path| rules.access(&original(method, host, path)).0.clone();
        assert!(matches!(at(Method::GET, "x", "/health"), Access::Open));
        assert!(matches!(
            at(Method::GET, "x", "/health/deep"),
            Access::Closed
        ));
        assert!(matches!(
            at(Method::DELETE, "api.example.com", "/admin"),
            Access::Key(None)
        ));
        assert!(matches!(
            at(Method::GET, "api.example.com", "/admin/x"),
            Access::Key(None)
        ));
        assert!(matches!(
            at(Method::GET, "other.example", "/admin/x"),
            Access::Closed
        ));
        assert!(matches!(
            at(Method::GET, "x", "/administrator"),
            Access::Closed
        ));
    }

    #[test]
    fn a_pattern_is_a_path_or_a_path_and_everything_under_it() {
        let under = PathPattern::parse("/orders/*").unwrap();
        assert!(under.matches("/orders") && under.matches("/orders/7/items"));
        assert!(!under.matches("/ordersx") && !under.matches("/"));
        assert!(PathPattern::parse("/*").unwrap().matches("/anything"));
        for bad in ["orders", "/a*b", "/x?y=1", "/a/*/b"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::MemoryStore;

    fn original(method: Method, path: &str) -> Original {
        Original {
            method,
            path: path.into(),
            host: Some("api.example.com".into()),
            scheme: Some("https".into()),
            readable: true,
        }
    }

    #[test]
    fn rules_read_from_toml_and_bad_files_name_their_line() {
        let auth = Authenticator::new(MemoryStore::new());
        let rules = Rules::from_toml(
            r#"
default = "key"

[[route]]
path = "/health"
open = true

[[route]]
path = "/orders/*"
methods = ["get", "HEAD"]
host = "API.example.com"
any_of = ["orders:read", "admin"]
"#,
            &auth,
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert!(matches!(
            rules.access(&original(Method::GET, "/health")).0,
            Access::Open
        ));
        let Access::Key(Some(requirement)) = rules.access(&original(Method::HEAD, "/orders/1")).0
        else {
            panic!("a scoped route")
        };
        assert_eq!(requirement.scopes(), ["orders:read", "admin"]);
        assert!(matches!(
            rules.access(&original(Method::POST, "/orders/1")).0,
            Access::Key(None)
        ));

        for (text, says) in [
            ("[[route]]\npath = \"/a\"\nopn = true\n", "line 3"),
            (
                "[[route]]\npath = \"/a\"\nscheme = \"ftp\"\n",
                "neither http nor https",
            ),
            (
                "[[route]]\npath = \"/a\"\nclosed = true\nopen = true\n",
                "neither open",
            ),
            ("default = \"open\"\n", "line 1"),
            ("[[route]]\npath = \"a\"\n", "route 1"),
            (
                "[[route]]\npath = \"/a\"\nopen = true\nall_of = [\"x\"]\n",
                "no scopes",
            ),
            (
                "[[route]]\npath = \"/a\"\nall_of = [\"bad scope\"]\n",
                "route 1",
            ),
            (
                "[[route]]\npath = \"/a\"\nmethods = [\"GE T\"]\n",
                "not an HTTP method",
            ),
            (
                "[[route]]\npath = \"/a\"\nall_of = [\"x\"]\nany_of = [\"y\"]\n",
                "not both",
            ),
        ] {
            let err = Rules::from_toml(text, &auth).unwrap_err().to_string();
            assert!(err.contains(says), "{text:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn a_route_can_match_the_scheme_a_gateway_says_and_close() {
        let auth = Authenticator::new(MemoryStore::new());
        let rules = Rules::from_toml(
            "default = \"key\"\n[[route]]\nscheme = \"HTTP\"\npath = \"/*\"\nclosed = true\n",
            &auth,
        )
        .unwrap();
        let over = |scheme: Option<&str>| Original {
            scheme: scheme.map(str::to_owned),
            ..original(Method::GET, "/orders")
        };
        assert!(matches!(
            rules.access(&over(Some("http"))).0,
            Access::Closed
        ));
        assert!(matches!(
            rules.access(&over(Some("https"))).0,
            Access::Key(None)
        ));
        // Not said: the scheme route does not match, the default decides.
        assert!(matches!(rules.access(&over(None)).0, Access::Key(None)));
    }
}
