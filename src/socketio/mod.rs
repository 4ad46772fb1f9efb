//! Socket.IO v5 (guide to be written).
pub mod packet;
pub mod value;
