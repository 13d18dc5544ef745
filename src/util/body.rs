//! HTTP request bodies for hyper clients: empty, whole, or streamed from a reader. Shared by
//! the API client and the engine's registry and URL clients, so that neither side imports the
//! other for them.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};

/// A boxed request body whose streaming errors are I/O errors.
pub type ReqBody = BoxBody<Bytes, std::io::Error>;

pub fn empty() -> ReqBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

pub fn full(data: impl Into<Bytes>) -> ReqBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// How much of an upload goes into one HTTP chunk. Large chunks keep the per-chunk cost
/// (framing, a channel hop and a wake-up in the daemon) small against the bytes: 4 KiB chunks
/// made `load` of a 1 GB archive take two minutes in a debug build.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// A request body streamed from a reader (uploads of archives and blobs).
pub fn reader_body<R: tokio::io::AsyncRead + Send + Sync + 'static>(reader: R) -> ReqBody {
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, UPLOAD_CHUNK);
    let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(stream, |r| {
        r.map(hyper::body::Frame::data)
    }));
    BodyExt::boxed(body)
}
