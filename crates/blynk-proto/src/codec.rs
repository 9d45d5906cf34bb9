//! tokio-util adapter (feature `codec`): [`BlynkCodec`] implements
//! [`tokio_util::codec::Decoder`] and [`tokio_util::codec::Encoder`] so a socket can be
//! wrapped in `Framed` / `FramedRead` / `FramedWrite`.

use bytes::BytesMut;

use crate::{Decoder, Message, ProtoError};

/// [`Decoder`] and [`Message::encode`] behind tokio-util's codec traits.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlynkCodec {
    decoder: Decoder,
}

impl BlynkCodec {
    /// A codec with the default [`Decoder`].
    pub fn new() -> Self {
        BlynkCodec::default()
    }

    /// A codec using `decoder` (e.g. [`Decoder::with_max_body`]).
    pub fn with_decoder(decoder: Decoder) -> Self {
        BlynkCodec { decoder }
    }
}

impl tokio_util::codec::Decoder for BlynkCodec {
    type Item = Message;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, ProtoError> {
        let message = self.decoder.decode(src)?;
        if message.is_none() {
            // Bounded by the body limit: an oversized header already returned an error.
            src.reserve(self.decoder.needed(src));
        }
        Ok(message)
    }
}

impl tokio_util::codec::Encoder<Message> for BlynkCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}

impl tokio_util::codec::Encoder<&Message> for BlynkCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}
