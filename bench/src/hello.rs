//! The `/users/me` ceiling: actix-web's hello world, served from this process
//! on its own thread with as many workers as Latch runs, on loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

use crate::error::BenchError;

/// A running hello-world server; stopped when dropped.
pub(crate) struct HelloServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl HelloServer {
    pub(crate) fn start(workers: usize) -> Result<Self, BenchError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let (handle_tx, handle_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let server =
                match HttpServer::new(|| App::new().route("/", web::get().to(|| async { "Hello world!" })))
                    .workers(workers)
                    .disable_signals()
                    .listen(listener)
                {
                    Ok(server) => server.run(),
                    Err(err) => {
                        let _ = handle_tx.send(Err(err));
                        return;
                    }
                };
            let _ = handle_tx.send(Ok(server.handle()));
            let _ = system.block_on(server);
        });
        let handle = handle_rx
            .recv()
            .map_err(|_| BenchError::Setup("the hello-world thread ended early".into()))??;
        Ok(Self {
            addr,
            handle,
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HelloServer {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion,
        // which joining the thread does too.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
