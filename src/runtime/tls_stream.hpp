// Internal to src/runtime: SIP over TLS (RFC 3261 §26.2) on OpenSSL directly. The SSL object reads
// and writes the socket itself (a socket BIO, non-blocking) and Asio only waits for readiness, so a
// connection holds no buffers of its own: with SSL_MODE_RELEASE_BUFFERS an idle connection is the
// socket and the SSL state (a few KB). Boost's ssl::stream keeps two 17 KB buffers and a BIO pair
// with two more per connection (about 78 KB idle); WSS still uses it (Beast needs its stream type).
//
// One operation of each kind at a time (the connection never reads twice or writes twice at
// once); handlers run on the socket's executor, never inside the initiating call. An idle
// connection's read is a wait for readability: the bytes go into the caller's buffer (the engine's
// shared one) only once they are there.
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <functional>
#include <memory>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace referkit::runtime {

// A socket BIO whose writes never raise SIGPIPE (send with MSG_NOSIGNAL): OpenSSL's own socket
// BIO uses write(), which kills the process when a peer has closed its end (a client that goes
// away right after its handshake, before the server's session tickets are written).
inline BIO_METHOD* nosignal_socket_bio() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "referkit socket");
        BIO_meth_set_write_ex(m, [](BIO* b, const char* data, std::size_t len, std::size_t* written) -> int {
            BIO_clear_retry_flags(b);
            const ssize_t n = ::send(static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))), data, len,
                                     MSG_NOSIGNAL);
            if (n >= 0) {
                *written = static_cast<std::size_t>(n);
                return 1;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
            return 0;
        });
        BIO_meth_set_read_ex(m, [](BIO* b, char* data, std::size_t len, std::size_t* got) -> int {
            BIO_clear_retry_flags(b);
            const ssize_t n = ::recv(static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))), data, len, 0);
            if (n > 0) {
                *got = static_cast<std::size_t>(n);
                return 1;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
            return 0;  // n == 0: the peer closed its end
        });
        BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
        BIO_meth_set_create(m, [](BIO* b) -> int {
            BIO_set_init(b, 1);
            return 1;
        });
        return m;
    }();
    return method;
}

class TlsStream {
public:
    using error_code = boost::system::error_code;
    using tcp = boost::asio::ip::tcp;

    TlsStream(tcp::socket&& socket, boost::asio::ssl::context& ctx)
        : socket_(std::move(socket)), ssl_(SSL_new(ctx.native_handle()), &SSL_free) {
        if (ssl_) {
            SSL_set_mode(ssl_.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
            if (socket_.is_open()) attach();
        }
    }
    TlsStream(TlsStream&&) = default;
    TlsStream& operator=(TlsStream&&) = default;

    tcp::socket& next_layer() noexcept { return socket_; }
    SSL* native_handle() noexcept { return ssl_.get(); }

    // After an outgoing connect opened the socket.
    void attach() {
        error_code ec;
        socket_.non_blocking(true, ec);
        BIO* bio = BIO_new(nosignal_socket_bio());
        if (bio == nullptr) return;
        BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
        SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways: SSL_set_bio takes one reference
        attached_ = true;
    }

    enum class Role { client, server };
    void async_handshake(Role role, std::function<void(const error_code&)> done) {
        if (!ssl_) {
            const error_code ec = make_error(ERR_get_error());
            boost::asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec); });
            return;
        }
        if (!attached_) attach();
        if (role == Role::client) SSL_set_connect_state(ssl_.get());
        else SSL_set_accept_state(ssl_.get());
        step([this](int& n) { return n = SSL_do_handshake(ssl_.get()); },
             [done = std::move(done)](const error_code& ec, std::size_t) { done(ec); });
    }

    // At most `size` bytes of application data (one TLS record's worth or less).
    void async_read_some(char* data, std::size_t size, std::function<void(const error_code&, std::size_t)> done) {
        step([this, data, size](int& n) {
                 std::size_t got = 0;
                 const int r = SSL_read_ex(ssl_.get(), data, size, &got);
                 n = static_cast<int>(got);
                 return r;
             },
             std::move(done));
    }

    // All of [data, data + size): SSL_write_ex writes everything or nothing without partial writes.
    void async_write(const char* data, std::size_t size, std::function<void(const error_code&, std::size_t)> done) {
        step([this, data, size](int& n) {
                 std::size_t put = 0;
                 const int r = SSL_write_ex(ssl_.get(), data, size, &put);
                 n = static_cast<int>(put);
                 return r;
             },
             std::move(done));
    }

private:
    static error_code make_error(unsigned long e) {
        // An empty error queue (or a code OpenSSL leaves 0) must never read as success.
        if (e == 0) return boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::stream_truncated);
        return error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
    }

    // Runs `op` (one OpenSSL call returning 1 on success, filling n) from a handler, waiting for
    // the socket when OpenSSL wants to read or write, and calls `done` from that handler as soon as
    // it succeeds: a read into a buffer shared between connections is consumed before any other
    // connection's handler runs.
    template <class Op>
    void step(Op op, std::function<void(const error_code&, std::size_t)> done) {
        boost::asio::post(socket_.get_executor(),
                          [this, op = std::move(op), done = std::move(done)]() mutable { run(std::move(op), std::move(done)); });
    }
    template <class Op>
    void run(Op op, std::function<void(const error_code&, std::size_t)> done) {
        // Closed since the operation was queued: its buffers may be gone and its descriptor number
        // reused by another connection, so OpenSSL must not touch either.
        if (!socket_.is_open()) return done(error_code(boost::asio::error::operation_aborted), 0);
        int n = 0;
        ERR_clear_error();
        const int r = op(n);
        if (r == 1) return done(error_code{}, static_cast<std::size_t>(n));
        const int e = SSL_get_error(ssl_.get(), r);
        switch (e) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE:
                socket_.async_wait(e == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                                   [this, op = std::move(op), done = std::move(done)](const error_code& ec) mutable {
                                       if (ec) return done(ec, 0);
                                       run(std::move(op), std::move(done));
                                   });
                return;
            case SSL_ERROR_ZERO_RETURN: return done(error_code(boost::asio::error::eof), 0);
            case SSL_ERROR_SYSCALL: {
                const unsigned long q = ERR_get_error();
                // An EOF without close_notify (or a reset) ends the stream like EOF does.
                return done(q != 0 ? make_error(q) : error_code(boost::asio::error::eof), 0);
            }
            default: return done(make_error(ERR_get_error()), 0);
        }
    }

    tcp::socket socket_;
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
    bool attached_ = false;
};

}  // namespace referkit::runtime
