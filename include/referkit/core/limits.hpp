// Resource limits for parsing and framing. Every limit is explicit, configurable and has a
// documented default; exceeding one yields a ParseError naming it (never a silent truncation).
#pragma once
#include <cstddef>

namespace referkit {

struct Limits {
    // Whole message (start line + headers + body). RFC 3261 §18.1.1 / UDP's practical maximum.
    // Exceeded: 513 Message Too Large.
    std::size_t max_message_size = 65535;
    // Number of header fields (lines, after unfolding). Exceeded: 400.
    std::size_t max_headers = 256;
    // One start line or one (unfolded) header field, in bytes. Exceeded: 400 (414 for the start
    // line when the Request-URI is what makes it long).
    std::size_t max_line_length = 8192;
    // One URI, in bytes. Exceeded: 414 Request-URI Too Long.
    std::size_t max_uri_length = 4096;
    // Parameters on one URI or header value. Exceeded: 400.
    std::size_t max_params = 64;
    // Bytes a stream framer may hold at once (complete frames not yet taken plus the incomplete
    // one). The default fits one largest message plus one 64 KiB read; a peer that trickles a
    // message that never completes is bounded by this and by max_message_size (the runtime adds
    // a time bound). Exceeded: 513 and the connection is closed.
    std::size_t max_pending_stream_bytes = 131072;
    // Open transactions (client and server together) in one TransactionLayer. A request beyond it
    // is answered 503 with Retry-After (RFC 3261 §21.5.4) without creating a transaction; a request
    // the TU sends beyond it fails with TransactionError::too_many_transactions. Sized for a user
    // agent: non-INVITE server transactions live 64*T1 = 32 s on UDP, so the default absorbs about
    // 500 requests/s sustained (a few KiB each).
    std::size_t max_transactions = 16384;
    // Open server transactions whose requests came from one source address (IP, any port or
    // transport): one sender cannot take them all. Beyond it that sender's requests get 503 with
    // Retry-After while others' are served. 0 = no per-source bound. A deployment behind one proxy
    // (every request from its address) raises it to max_transactions.
    std::size_t max_transactions_per_source = 4096;
    // Requests inside a dialog of the TU (TransactionOptions::in_dialog) may open this many
    // transactions beyond max_transactions and are never held to the per-source bound: a flood of
    // strangers' requests never sheds a live transfer's NOTIFY or a call's BYE.
    std::size_t reserved_in_dialog_transactions = 2048;
};

}  // namespace referkit
