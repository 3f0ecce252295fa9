//! The sync loop: long-poll the plan, apply it, acknowledge it.

mod apply;
mod install;
mod poll;

pub(crate) use poll::run;
