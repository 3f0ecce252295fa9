//! Test helpers: the shared broker's URL, throwaway Mosquitto processes, a subscriber, a
//! switchable TCP proxy.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::Notification;
use edgesync_mqtt::{MqttConfig, MqttNotifierOptions};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// The shared broker's URL, or `None` after printing SKIPPED.
pub(crate) fn test_url() -> Option<String> {
    match std::env::var("EDGESYNC_TEST_MQTT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("SKIPPED: MQTT tests need EDGESYNC_TEST_MQTT_URL");
            None
        }
    }
}

/// `program`'s path on PATH, or `None` after printing SKIPPED.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        println!("SKIPPED: this test needs `{program}` on PATH");
    }
    found
}

/// A string unique to this test run, for topics no other test (or process) uses.
pub(crate) fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("t{}-{nanos:x}-{n}", std::process::id())
}

pub(crate) fn notification(topic: impl Into<String>, payload: impl Into<Bytes>) -> Notification {
    Notification {
        topic: topic.into(),
        payload: payload.into(),
    }
}

/// Options that reconnect quickly, for tests.
pub(crate) fn fast_options() -> MqttNotifierOptions {
    MqttNotifierOptions {
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(250),
        ..Default::default()
    }
}

/// A port nothing listens on (the OS picked it and it was released).
pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `cond` every 10 ms until it holds; false after `timeout`.
pub(crate) async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Mosquitto process owned by a test; killed on drop.
pub(crate) struct Broker {
    program: PathBuf,
    args: Vec<String>,
    ports: Vec<u16>,
    child: Option<Child>,
}

impl Broker {
    /// `mosquitto -p PORT` (loopback only, anonymous allowed).
    pub(crate) async fn on_port(program: &Path, port: u16) -> Self {
        Self::start(program, vec!["-p".into(), port.to_string()], vec![port]).await
    }

    /// `mosquitto -c CONF`, ready once every port in `ports` accepts connections.
    pub(crate) async fn with_config(program: &Path, conf: &Path, ports: Vec<u16>) -> Self {
        let args = vec!["-c".into(), conf.display().to_string()];
        Self::start(program, args, ports).await
    }

    async fn start(program: &Path, args: Vec<String>, ports: Vec<u16>) -> Self {
        let mut broker = Self {
            program: program.to_owned(),
            args,
            ports,
            child: None,
        };
        broker.restart().await;
        broker
    }

    /// Kills the process: connections drop at once, as in a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same arguments and waits until it listens.
    pub(crate) async fn restart(&mut self) {
        self.kill();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        for port in self.ports.clone() {
            let up = wait_until_async(Duration::from_secs(10), || async move {
                TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            })
            .await;
            assert!(up, "mosquitto did not listen on {port}");
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_until_async<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// An independent rumqttc client subscribed at QoS 1, collecting what it receives.
pub(crate) struct Subscriber {
    received: mpsc::UnboundedReceiver<(String, Bytes)>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Connects to the broker of `url` and returns once every filter is subscribed.
    pub(crate) async fn connect(url: &str, filters: &[&str]) -> Self {
        let config = MqttConfig::parse(url, MqttNotifierOptions::default()).unwrap();
        let mut options = MqttOptions::new(
            format!("sub-{}", unique()),
            config.host.clone(),
            config.port,
        );
        options.set_max_packet_size(1024 * 1024, 1024 * 1024);
        if let Some(user) = &config.username {
            options.set_credentials(user, config.password.clone().unwrap_or_default());
        }
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        for filter in filters {
            client.subscribe(*filter, QoS::AtLeastOnce).await.unwrap();
        }
        let (tx, received) = mpsc::unbounded_channel();
        let (subacks_tx, mut subacks) = watch::channel(0usize);
        let task = tokio::spawn(async move {
            let _client = client; // keeps the request channel open
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subacks_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.clone()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let want = filters.len();
        tokio::time::timeout(Duration::from_secs(10), subacks.wait_for(|n| *n >= want))
            .await
            .expect("subscriber was not acknowledged in time")
            .unwrap();
        Self { received, task }
    }

    /// Receives until `count` messages whose topic contains `marker` arrived or `timeout`
    /// passed; other messages (other tests on a shared broker) are ignored.
    pub(crate) async fn collect(
        &mut self,
        marker: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<(String, Bytes)> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while got.len() < count {
            match tokio::time::timeout_at(deadline, self.received.recv()).await {
                Ok(Some((topic, payload))) if topic.contains(marker) => got.push((topic, payload)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        got
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP proxy to `upstream` that refuses service (accepts, then closes) while down.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    up: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let up = up.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(mut out) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        }
                    });
                }
            }
        });
        Self { port, up, task }
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
