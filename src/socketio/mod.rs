//! Socket.IO v5 (guide to be written).
pub mod adapter;
pub mod handlers;
pub mod packet;
pub mod server;
pub mod value;
