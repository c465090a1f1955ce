// Internal to src/runtime: TCP and TLS connections, framed by a StreamFramer (RFC 3261 §18.3),
// with RFC 5626 §3.5.1 CRLF keep-alives and client-side TLS verification.
#pragma once
#include <array>
#include <string>
#include <type_traits>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine_impl.hpp"
#include "referkit/core/framer.hpp"
#include "tls_stream.hpp"

namespace referkit::runtime {

inline tcp::socket& lowest(tcp::socket& s) { return s; }
inline tcp::socket& lowest(TlsSocket& s) { return s.next_layer(); }
inline tcp::socket& lowest(TlsStream& s) { return s.next_layer(); }

// Client-side TLS: verify the chain (verify mode) and the name or IP of the server, send SNI.
// `S` is TlsStream (SIP over TLS) or TlsSocket (WSS).
template <class S>
void configure_client_tls(S& s, const TlsOptions& o, const std::string& host) {
    SSL* ssl = s.native_handle();
    const std::string& name = o.server_name.empty() ? host : o.server_name;
    if (o.verify_peer) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
        if (ip_literal(name)) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
        else SSL_set1_host(ssl, name.c_str());
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, SSL_get_verify_callback(ssl));
    }
    if (!ip_literal(name))  // RFC 6066 §3: SNI carries names only; the macro's casts are spelled out
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
}

template <class S>
std::string tls_failure(S& s, const error_code& ec, const TlsOptions& o, const std::string& host) {
    const long v = SSL_get_verify_result(s.native_handle());
    if (v != X509_V_OK) {
        return "certificate verification failed: " + std::string(X509_verify_cert_error_string(v)) + " (expected " +
               (o.server_name.empty() ? host : o.server_name) + ")";
    }
    return "TLS handshake failed: " + ec.message();
}

template <class S>
bool is_verify_failure(S& s) {
    return SSL_get_verify_result(s.native_handle()) != X509_V_OK;
}

// TCP and TLS: bytes framed by a StreamFramer (RFC 3261 §18.3).
template <class S>
struct StreamConn final : Conn {
    static constexpr bool tls = std::is_same_v<S, TlsStream>;

    StreamConn(Engine::Impl& impl_, ConnectionId id_, Transport t, Endpoint remote_, bool outgoing_, tcp::socket socket,
               ssl::context* ctx)
        : Conn(impl_, id_, t, std::move(remote_), outgoing_), waiting(std::move(socket)), tls_ctx(ctx),
          framer(outgoing_ ? StreamRole::client : StreamRole::server, impl_.opt.limits) {
        if (!tls || outgoing) st();
    }

    static S make(tcp::socket&& socket, ssl::context* ctx) {
        if constexpr (tls) return S(std::move(socket), *ctx);
        else {
            (void)ctx;
            return std::move(socket);
        }
    }

    // An accepted TLS connection waits for its ClientHello in `waiting`, a bare socket: the TLS
    // stream and OpenSSL's state are made when the first bytes arrive (st()).
    tcp::socket waiting;
    ssl::context* tls_ctx;
    std::optional<S> stream;
    S& st() {
        if (!stream) stream.emplace(make(std::move(waiting), tls_ctx));
        return *stream;
    }
    StreamFramer framer;
    // Neither TCP nor TLS reads into a buffer of its own: each waits for readability and reads into
    // the engine's shared buffer, so an idle connection holds no read buffer at all.
    // The bytes the framer holds (from the first byte of the message being framed), so a framing
    // error can be handed to the core to answer (it reads Via, From, To, Call-ID, CSeq from them).
    // Bounded like the framer, by Limits::max_pending_stream_bytes plus one read.
    std::string current;
    std::uint64_t current_start = 0;  // stream offset of current[0]

    void connect(const std::vector<asio::ip::address>& addresses) override {
        if (addresses.empty()) {
            connect_failed("no address");
            return;
        }
        std::vector<tcp::endpoint> eps;
        for (const auto& a : addresses) eps.emplace_back(a, remote.port);
        asio::async_connect(lowest(st()), eps,
                            [self = std::static_pointer_cast<StreamConn>(shared_from_this())](
                                const error_code& ec, const tcp::endpoint& ep) {
                                if (self->state == State::closed) return;
                                if (ec) {
                                    self->connect_failed(ec.message());
                                    return;
                                }
                                self->remote = endpoint_of(ep.address(), ep.port());
                                self->connected();
                            });
    }
    void connected() {
        if constexpr (tls) {
            configure_client_tls(st(), impl->opt.tls, dest_host);
            st().async_handshake(TlsStream::Role::client,
                                   [self = std::static_pointer_cast<StreamConn>(shared_from_this())](const error_code& ec) {
                                       if (self->state == State::closed) return;
                                       if (ec) {
                                           if (is_verify_failure(self->st())) ++self->impl->counters.tls_verify_failures;
                                           self->connect_failed(tls_failure(self->st(), ec, self->impl->opt.tls, self->dest_host));
                                           return;
                                       }
                                       self->opened();
                                       self->read();
                                   });
        } else {
            opened();
            read();
        }
    }
    void start_accepted() override {
        if constexpr (tls) {
            connect_deadline = impl->now() + std::chrono::duration_cast<Time>(impl->opt.connect_timeout);
            schedule();
            waiting.async_wait(tcp::socket::wait_read, [self = std::static_pointer_cast<StreamConn>(shared_from_this())](
                                                           const error_code& ec) {
                if (self->state == State::closed) return;
                if (ec) {
                    self->close(false);
                    return;
                }
                self->handshake();
            });
        } else {
            opened();
            read();
        }
    }
    void handshake() {
        if constexpr (tls) {
            st().async_handshake(TlsStream::Role::server,
                                   [self = std::static_pointer_cast<StreamConn>(shared_from_this())](const error_code& ec) {
                                       if (self->state == State::closed) return;
                                       if (ec) {
                                           self->impl->log("TLS handshake from " + format_hostport(self->remote) +
                                                           " failed: " + ec.message());
                                           self->close(false);
                                           return;
                                       }
                                       self->opened();
                                       self->read();
                                   });
        } else {
            opened();
            read();
        }
    }
    void write_front() override {
        auto done = [self = shared_from_this()](const error_code& ec, std::size_t) { self->written(ec); };
        if constexpr (tls) st().async_write(queue.front().bytes.data(), queue.front().bytes.size(), std::move(done));
        else asio::async_write(st(), asio::buffer(queue.front().bytes.data(), queue.front().bytes.size()), std::move(done));
    }
    void close_stream() override {
        error_code ignored;
        if (stream) lowest(*stream).close(ignored);
        else waiting.close(ignored);
    }
    [[nodiscard]] bool crlf_keepalive() const override { return true; }

    void read() {
        if constexpr (tls) {
            // Waits for readability, then OpenSSL reads into the engine's shared buffer (one record
            // at most), which received() consumes before any other handler runs.
            std::vector<char>& shared = impl->shared_read_buffer();
            st().async_read_some(shared.data(), shared.size(), [self = std::static_pointer_cast<StreamConn>(shared_from_this())](
                                                                   const error_code& ec, std::size_t n) {
                if (self->state == State::closed || self->state == State::closing) return;
                if (ec) {
                    self->read_failed(ec);
                    return;
                }
                self->received(std::string_view(self->impl->shared_read_buffer().data(), n));
                if (self->state == State::open) self->read();
            });
        } else {
            st().async_wait(tcp::socket::wait_read, [self = std::static_pointer_cast<StreamConn>(shared_from_this())](
                                                          const error_code& ec) {
                if (self->state == State::closed || self->state == State::closing) return;
                if (ec) {
                    self->read_failed(ec);
                    return;
                }
                std::vector<char>& shared = self->impl->shared_read_buffer();
                error_code rec;
                if (!self->st().non_blocking()) self->st().non_blocking(true, rec);
                const std::size_t n = rec ? 0 : self->st().read_some(asio::buffer(shared), rec);
                if (rec == asio::error::would_block || rec == asio::error::try_again) {
                    self->read();  // woken without data: wait again
                    return;
                }
                if (rec) {
                    self->read_failed(rec);
                    return;
                }
                self->received(std::string_view(shared.data(), n));
                if (self->state == State::open) self->read();
            });
        }
    }
    // EOF or reset: transactions waiting on this connection fail.
    void read_failed(const error_code& ec) {
        if (ec != asio::error::eof)
            impl->log(transport_name_s() + " " + format_hostport(remote) + ": " + ec.message());
        close(true);
    }

    void received(std::string_view bytes) {
        current.append(bytes);
        auto fed = framer.feed(bytes);
        if (!fed) {
            framing_error(fed.error());
            return;
        }
        for (;;) {
            auto frame = framer.next();
            if (!frame) {
                framing_error(frame.error());
                return;
            }
            if (!*frame) break;
            // `current` mirrors the framer's pending bytes: drop the frame just taken.
            const std::uint64_t consumed = framer.stream_offset();
            current.erase(0, static_cast<std::size_t>(std::min<std::uint64_t>(consumed - current_start, current.size())));
            current_start = consumed;
            switch ((*frame)->kind) {
            case Frame::Kind::message:
                deliver(std::move((*frame)->bytes));
                break;
            case Frame::Kind::ping:
                // RFC 5626 §3.5.1: a double-CRLF ping is answered with a single-CRLF pong.
                ++impl->counters.pings_answered;
                send(SharedBuffer::copy_of("\r\n"), TransactionId{}, true);
                break;
            case Frame::Kind::pong:
                ++impl->counters.pongs_received;
                pong_deadline.reset();
                break;
            }
            if (state != State::open) return;
        }
        if (framer.pending() > 0) {
            if (!incomplete_since) {
                incomplete_since = impl->now();
                schedule();
            }
        } else {
            if (incomplete_since) {
                incomplete_since.reset();
                schedule();  // the idle timeout applies again
            }
            // Nothing held: after a large message, give its memory back (the framer and `current`
            // keep their capacity otherwise), so an idle connection is small again.
            if (current.capacity() > shrink_above) {
                framer = StreamFramer(outgoing ? StreamRole::client : StreamRole::server, impl->opt.limits);
                current = std::string();
                current_start = 0;
            }
        }
    }
    static constexpr std::size_t shrink_above = 4096;

    // The stream cannot be resynchronised: the core answers the offending request if it can
    // (with the status of its own parse of the bytes held: 513 for oversized headers or a
    // Content-Length beyond max_message_size when the core has the same Limits, 400 otherwise),
    // then the connection closes once the answer is written. The blank line ending the headers is
    // cut off so that the core can never take the bytes for a complete message.
    void framing_error(const ParseError& e) {
        ++impl->counters.framing_errors;
        impl->log(transport_name_s() + " " + format_hostport(remote) + ": framing error, closing: " + e.describe());
        std::string held = std::move(current);
        current.clear();
        const auto first = std::min(held.find_first_not_of("\r\n"), held.size());
        if (const auto end = held.find("\r\n\r\n", first); end != std::string::npos) held.resize(end + 2);
        else if (const auto lf = held.find("\n\n", first); lf != std::string::npos) held.resize(lf + 1);
        if (!held.empty()) deliver(SharedBuffer::copy_of(held));
        close_after_writes();
    }
};

// WS and WSS (RFC 7118): one SIP message per WebSocket message.

}  // namespace referkit::runtime
