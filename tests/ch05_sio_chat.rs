//! Chapter 5's chat handlers (`chapters/ch05/sio_chat.rs`) and the slow-handler
//! pool (`sio_slow.rs`), driven through the sans-IO Socket.IO server: the
//! modules' own tests run here.

#[path = "../chapters/ch05/sio_chat.rs"]
mod sio_chat;

#[path = "../chapters/ch05/sio_slow.rs"]
mod sio_slow;
