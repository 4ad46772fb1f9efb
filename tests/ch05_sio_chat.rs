//! Chapter 5's chat handlers (`chapters/ch05/sio_chat.rs`), driven through
//! the sans-IO Socket.IO server: the module's own tests run here.

#[path = "../chapters/ch05/sio_chat.rs"]
mod sio_chat;
