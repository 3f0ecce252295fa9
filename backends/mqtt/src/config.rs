//! Broker URLs and notifier options, parsed into a typed configuration. Pure: no I/O.

use std::fmt;
use std::time::Duration;

use edgesync_core::{Error, Result};
use url::{Host, Url};

const SUPPORTED: &str = "supported: mqtt://[user[:password]@]host[:1883][?client_id=ID], \
     mqtts://[user[:password]@]host[:8883][?client_id=ID]";

/// Tuning and credentials for [`MqttNotifier`](crate::MqttNotifier).
///
/// Values set here win over the same values in the URL. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttNotifierOptions {
    /// Username; overrides the URL's userinfo.
    pub username: Option<String>,
    /// Password; overrides the URL's userinfo. Needs a username (MQTT 3.1.1).
    pub password: Option<String>,
    /// Client id; overrides `?client_id=`. Default: `edgesync-` and 14 random hex digits (23
    /// characters, the most MQTT 3.1.1 brokers must accept).
    pub client_id: Option<String>,
    /// For `mqtts://`: the trusted roots, as PEM certificates. `None` trusts the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// How many notifications wait in the in-process queue (one per topic at most: a newer one
    /// replaces a waiting one); when full, the oldest is dropped. The default holds a deploy's
    /// two notifications per node for a fleet of 50,000 nodes.
    pub queue_capacity: usize,
    /// MQTT keep-alive (at least 1 s); a silent broker is declared lost after about two
    /// keep-alives.
    pub keep_alive: Duration,
    /// How long one connection attempt (TCP, TLS, CONNECT/CONNACK) may take; whole seconds.
    pub connect_timeout: Duration,
    /// The first pause after a failed connection attempt; doubled after each failure.
    pub reconnect_min: Duration,
    /// The longest pause between connection attempts.
    pub reconnect_max: Duration,
    /// How many times a notification is offered to the MQTT client while connected before it
    /// counts as failed (the client's request channel stays full under overload).
    pub publish_attempts: u32,
    /// The largest MQTT packet sent; bigger notifications are counted as failed instead of
    /// being sent (rumqttc would otherwise drop the whole connection).
    pub max_packet_size: usize,
}

impl Default for MqttNotifierOptions {
    fn default() -> Self {
        Self {
            username: None,
            password: None,
            client_id: None,
            ca_pem: None,
            queue_capacity: 100_000,
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            publish_attempts: 5,
            max_packet_size: 256 * 1024,
        }
    }
}

impl fmt::Debug for MqttNotifierOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttNotifierOptions")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("client_id", &self.client_id)
            .field(
                "ca_pem",
                &self.ca_pem.as_ref().map(|p| format!("{} bytes", p.len())),
            )
            .field("queue_capacity", &self.queue_capacity)
            .field("keep_alive", &self.keep_alive)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("publish_attempts", &self.publish_attempts)
            .field("max_packet_size", &self.max_packet_size)
            .finish()
    }
}

/// A broker URL and options resolved into what the notifier runs with.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker host (an IPv6 address keeps its brackets).
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Whether the connection uses TLS (`mqtts://`).
    pub tls: bool,
    /// The MQTT client id.
    pub client_id: String,
    /// Username, if any.
    pub username: Option<String>,
    /// Password, if any; never printed by `Debug`.
    pub password: Option<String>,
    /// The options the configuration was resolved with (credentials already moved above).
    pub options: MqttNotifierOptions,
}

impl MqttConfig {
    /// Parses a broker URL and applies `options`.
    ///
    /// # Behavior
    /// - `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (default 8883).
    /// - Userinfo gives username and password (percent-decoded); the options override them.
    /// - The only query parameter is `client_id`; no path (other than `/`) or fragment.
    /// - Zero `queue_capacity` or `publish_attempts`, or `reconnect_min > reconnect_max`, are
    ///   rejected.
    /// - Errors are `invalid_request` and never repeat the URL, so a password does not end up in
    ///   logs.
    pub fn parse(url: &str, options: MqttNotifierOptions) -> Result<Self> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::invalid(format!("the MQTT URL does not parse ({e}); {SUPPORTED}"))
        })?;
        let (tls, default_port) = match parsed.scheme() {
            "mqtt" => (false, 1883),
            "mqtts" => (true, 8883),
            other => {
                return Err(Error::invalid(format!(
                    "unsupported MQTT URL scheme {other:?}; {SUPPORTED}"
                )));
            }
        };
        let host = match parsed.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => {
                return Err(Error::invalid(format!(
                    "the MQTT URL has no host; {SUPPORTED}"
                )));
            }
        };
        let port = parsed.port().unwrap_or(default_port);
        if !matches!(parsed.path(), "" | "/") {
            return Err(Error::invalid("an MQTT URL takes no path"));
        }
        if parsed.fragment().is_some() {
            return Err(Error::invalid("an MQTT URL takes no fragment"));
        }
        let mut client_id = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "client_id" if client_id.is_none() => client_id = Some(value.into_owned()),
                "client_id" => return Err(Error::invalid("the MQTT URL repeats client_id")),
                other => {
                    return Err(Error::invalid(format!(
                        "unknown MQTT URL parameter {other:?}; {SUPPORTED}"
                    )));
                }
            }
        }

        let url_user =
            Some(percent_decode(parsed.username(), "username")?).filter(|u| !u.is_empty());
        let url_password = parsed
            .password()
            .map(|p| percent_decode(p, "password"))
            .transpose()?;
        let mut options = options;
        let username = options.username.take().or(url_user);
        let password = options.password.take().or(url_password);
        if password.is_some() && username.is_none() {
            return Err(Error::invalid("an MQTT password needs a username"));
        }
        let client_id = match options.client_id.clone().or(client_id) {
            Some(id) if id.is_empty() => return Err(Error::invalid("the MQTT client_id is empty")),
            Some(id) => id,
            None => default_client_id(),
        };
        check_options(&options)?;
        Ok(Self {
            host,
            port,
            tls,
            client_id,
            username,
            password,
            options,
        })
    }
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("options", &self.options)
            .finish()
    }
}

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

fn check_options(options: &MqttNotifierOptions) -> Result<()> {
    if options.queue_capacity == 0 {
        return Err(Error::invalid("the MQTT queue capacity must be at least 1"));
    }
    if options.publish_attempts == 0 {
        return Err(Error::invalid("MQTT publish attempts must be at least 1"));
    }
    if options.reconnect_min.is_zero() || options.reconnect_min > options.reconnect_max {
        return Err(Error::invalid(
            "the MQTT reconnect pauses need 0 < reconnect_min <= reconnect_max",
        ));
    }
    Ok(())
}

/// `edgesync-` + 14 hex digits: unique per process, 23 characters.
fn default_client_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("edgesync-{}", &hex[..14])
}

/// Decodes `%XX` escapes of URL userinfo; the result must be UTF-8.
fn percent_decode(s: &str, what: &str) -> Result<String> {
    let bad = || {
        Error::invalid(format!(
            "the MQTT URL {what} is not valid percent-encoded UTF-8"
        ))
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<MqttConfig> {
        MqttConfig::parse(url, MqttNotifierOptions::default())
    }

    #[test]
    fn good_urls() {
        let c = parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.tls), ("127.0.0.1", 1883, false));
        assert!(c.client_id.starts_with("edgesync-") && c.client_id.len() == 23);
        assert_eq!((c.username, c.password), (None, None));

        let c = parse("mqtt://broker.example").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("broker.example", 1883, false)
        );

        let c = parse("mqtts://broker.example/").unwrap();
        assert_eq!((c.port, c.tls), (8883, true));

        let c =
            parse("mqtts://ops%40site:p%40ss%3Aw0rd@broker.example:18883?client_id=cp-1").unwrap();
        assert_eq!(c.port, 18883);
        assert_eq!(c.client_id, "cp-1");
        assert_eq!(c.username.as_deref(), Some("ops@site"));
        assert_eq!(c.password.as_deref(), Some("p@ss:w0rd"));

        let c = parse("mqtt://user@[::1]:1884").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("[::1]", 1884));
        assert_eq!((c.username.as_deref(), c.password), (Some("user"), None));
    }

    #[test]
    fn options_override_the_url() {
        let options = MqttNotifierOptions {
            username: Some("opt-user".into()),
            password: Some("opt-pass".into()),
            client_id: Some("opt-id".into()),
            ..Default::default()
        };
        let c = MqttConfig::parse("mqtt://u:p@h?client_id=url-id", options).unwrap();
        assert_eq!(c.username.as_deref(), Some("opt-user"));
        assert_eq!(c.password.as_deref(), Some("opt-pass"));
        assert_eq!(c.client_id, "opt-id");
        assert_eq!(
            c.options.username, None,
            "credentials live in the config only"
        );
    }

    #[test]
    fn bad_urls() {
        for url in [
            "",
            "127.0.0.1:1883",
            "tcp://h:1883",
            "http://h",
            "mqtt://",
            "mqtt:///path",
            "mqtt://h/some/path",
            "mqtt://h#frag",
            "mqtt://h?qos=2",
            "mqtt://h?client_id=",
            "mqtt://h?client_id=a&client_id=b",
            "mqtt://h:99999",
            "mqtt://:secret@h",
            "mqtt://u:%ZZ@h",
            "mqtt://u:%FF@h",
        ] {
            let err = parse(url).expect_err(url);
            assert_eq!(
                err.code(),
                edgesync_core::ErrorCode::InvalidRequest,
                "{url}"
            );
            assert!(!err.message().contains("secret"), "{url}: {err}");
        }
    }

    #[test]
    fn bad_options() {
        let bad = [
            MqttNotifierOptions {
                queue_capacity: 0,
                ..Default::default()
            },
            MqttNotifierOptions {
                publish_attempts: 0,
                ..Default::default()
            },
            MqttNotifierOptions {
                reconnect_min: Duration::from_secs(10),
                reconnect_max: Duration::from_secs(1),
                ..Default::default()
            },
            MqttNotifierOptions {
                password: Some("x".into()),
                ..Default::default()
            },
        ];
        for options in bad {
            assert!(MqttConfig::parse("mqtt://h", options).is_err());
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse("mqtt://user:hunter2-secret@h").unwrap();
        let shown = format!("{c:?} {:?}", c.options);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("user"),
            "{shown}"
        );

        let options = MqttNotifierOptions {
            username: Some("u".into()),
            password: Some("hunter2-secret".into()),
            ..Default::default()
        };
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
