//! The event loop: draw, wait for an event, turn it into an action, update, hand effects to
//! the worker. Keys come from a reader thread, ticks from a timer task, answers from the
//! worker's tasks — all over one channel, so the UI thread never blocks on I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{
    self as term, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};
use ratatui::Terminal;
use ratatui::backend::Backend;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::action::{Action, Effect, Event};
use crate::app::App;
use crate::worker::Worker;
use crate::{keys, update, view};

/// Events handled between two draws at most (keeps the screen live under a flood).
const BATCH: usize = 64;

/// Reads terminal events on a thread of its own until dropped.
#[derive(Debug)]
pub struct Input {
    stop: Arc<AtomicBool>,
}

impl Input {
    /// Starts the reader thread.
    pub fn spawn(events: mpsc::UnboundedSender<Event>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match term::poll(Duration::from_millis(100)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => break,
                }
                let event = match term::read() {
                    Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => Event::Key(k),
                    Ok(TermEvent::Resize(..)) => Event::Resize,
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if events.send(event).is_err() {
                    break;
                }
            }
        });
        Self { stop }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sends a [`Event::Tick`] every second.
pub fn spawn_ticker(events: mpsc::UnboundedSender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if events.send(Event::Tick(OffsetDateTime::now_utc())).is_err() {
                return;
            }
        }
    })
}

/// Splits an Alt-modified character into Esc and the character: terminals send Alt-x as
/// `ESC x`, which is also what a quick Esc then x looks like.
pub fn split_alt(event: Event) -> Vec<Event> {
    match event {
        Event::Key(k)
            if k.modifiers.contains(KeyModifiers::ALT) && matches!(k.code, KeyCode::Char(_)) =>
        {
            vec![
                Event::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
                Event::Key(KeyEvent::new(k.code, k.modifiers - KeyModifiers::ALT)),
            ]
        }
        e => vec![e],
    }
}

/// The action an event stands for.
pub fn action_for(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => keys::action_for(app, key),
        Event::Resize => None,
        Event::Tick(now) => Some(Action::Tick(now)),
        Event::Response(r) => Some(Action::Response(r)),
    }
}

/// Applies an action and hands its effects to the worker; `true` to quit.
pub fn dispatch(app: &mut App, worker: &Worker, action: Action) -> bool {
    let mut quit = false;
    for effect in update::update(app, action) {
        match effect {
            Effect::Request(request) => worker.submit(request),
            Effect::Quit => quit = true,
        }
    }
    quit
}

/// Runs the console until the user quits or the event channel closes.
pub async fn event_loop<B>(
    terminal: &mut Terminal<B>,
    mut app: App,
    worker: Worker,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut quit = dispatch(&mut app, &worker, Action::Tick(OffsetDateTime::now_utc()));
    while !quit {
        terminal.draw(|frame| view::draw(frame, &app))?;
        let Some(first) = events.recv().await else {
            break;
        };
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(event) = next.take() {
            for event in split_alt(event) {
                if let Some(action) = action_for(&app, event) {
                    quit |= dispatch(&mut app, &worker, action);
                }
            }
            handled += 1;
            if quit || handled >= BATCH {
                break;
            }
            next = events.try_recv().ok();
        }
    }
    Ok(())
}
