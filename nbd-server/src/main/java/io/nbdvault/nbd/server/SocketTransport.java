package io.nbdvault.nbd.server;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandle;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDomainSocketChannel;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerDomainSocketChannel;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.io.IOException;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Which of Netty's transports carries nbdvault's sockets: the NBD server's, the replicas' and the
 * admin socket's. One process uses one, so that a request is answered on the event loop that read
 * it (the server and the replicas share a group, see {@code TransportContext#eventLoops}).
 *
 * <p>{@link #IO_URING} submits a loop's reads and writes to the kernel in one batch per turn
 * instead of a system call each, which is where a server of 4 KiB requests spends its kernel time;
 * {@link #EPOLL} is the fallback where io_uring is missing or forbidden (an older kernel,
 * {@code kernel.io_uring_disabled}, a seccomp filter such as Docker's default); {@link #NIO} has
 * no unix sockets and is there for other systems. {@code -Dnbdvault.transport=io_uring|epoll|nio}
 * (for example in NBDVAULT_JAVA_OPTS) insists on one; the default takes the first available.
 */
public enum SocketTransport {
    IO_URING(IoUringIoHandle.class, IoUring::isAvailable, IoUring::unavailabilityCause, IoUringIoHandler::newFactory,
            IoUringSocketChannel.class, IoUringServerSocketChannel.class,
            IoUringDomainSocketChannel.class, IoUringServerDomainSocketChannel.class),
    EPOLL(EpollIoHandle.class, Epoll::isAvailable, Epoll::unavailabilityCause, EpollIoHandler::newFactory,
            EpollSocketChannel.class, EpollServerSocketChannel.class,
            EpollDomainSocketChannel.class, EpollServerDomainSocketChannel.class),
    NIO(NioIoHandle.class, () -> true, () -> null, NioIoHandler::newFactory,
            NioSocketChannel.class, NioServerSocketChannel.class, null, null);

    /** The system property that insists on one transport. */
    public static final String PROPERTY = "nbdvault.transport";

    // Class literals and method references: nothing of a transport is initialized (its native
    // library loaded) until it is asked whether it is available.
    private final Class<? extends IoHandle> handles;
    private final BooleanSupplier available;
    private final Supplier<Throwable> unavailabilityCause;
    private final Supplier<IoHandlerFactory> handlers;
    private final Class<? extends Channel> socket;
    private final Class<? extends ServerChannel> serverSocket;
    private final Class<? extends Channel> domainSocket;
    private final Class<? extends ServerChannel> serverDomainSocket;

    SocketTransport(Class<? extends IoHandle> handles, BooleanSupplier available, Supplier<Throwable> unavailabilityCause,
                    Supplier<IoHandlerFactory> handlers, Class<? extends Channel> socket,
                    Class<? extends ServerChannel> serverSocket, Class<? extends Channel> domainSocket,
                    Class<? extends ServerChannel> serverDomainSocket) {
        this.handles = handles;
        this.available = available;
        this.unavailabilityCause = unavailabilityCause;
        this.handlers = handlers;
        this.socket = socket;
        this.serverSocket = serverSocket;
        this.domainSocket = domainSocket;
        this.serverDomainSocket = serverDomainSocket;
    }

    /** Whether this process can use it (its native library loads and the kernel allows it). */
    public boolean available() {
        return available.getAsBoolean();
    }

    /** Why not, when it is not {@link #available()}. */
    public Throwable unavailabilityCause() {
        return unavailabilityCause.get();
    }

    public Class<? extends Channel> socketChannel() {
        return socket;
    }

    public Class<? extends ServerChannel> serverSocketChannel() {
        return serverSocket;
    }

    /** @throws UnsupportedOperationException on {@link #NIO} */
    public Class<? extends Channel> domainSocketChannel() {
        return unixOnly(domainSocket);
    }

    /** @throws UnsupportedOperationException on {@link #NIO} */
    public Class<? extends ServerChannel> serverDomainSocketChannel() {
        return unixOnly(serverDomainSocket);
    }

    public boolean hasUnixSockets() {
        return domainSocket != null;
    }

    /** @throws IOException on {@link #NIO}, saying why the transports that have unix sockets are unavailable */
    public void requireUnixSockets() throws IOException {
        if (!hasUnixSockets()) {
            throw new IOException(noUnixSockets());
        }
    }

    private <T> T unixOnly(T type) {
        if (type == null) {
            throw new UnsupportedOperationException(noUnixSockets());
        }
        return type;
    }

    private static String noUnixSockets() {
        return "unix sockets need Netty's io_uring or epoll transport, unavailable here: " + EPOLL.unavailabilityCause();
    }

    /** A group of {@code threads} event loops on this transport; its owner shuts it down. */
    public EventLoopGroup newEventLoops(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, handlers.get());
    }

    /** The transport {@code group}'s loops run, as made by {@link #newEventLoops}. */
    public static SocketTransport of(EventLoopGroup group) {
        EventLoop loop = group.next();
        for (SocketTransport t : values()) {
            if (loop instanceof IoEventLoop io && io.isCompatible(t.handles)) {
                return t;
            }
        }
        throw new IllegalArgumentException("an event loop of none of nbdvault's transports: " + loop.getClass().getName());
    }

    /**
     * The process's transport: the one {@value #PROPERTY} names, which must then be available, or
     * else the first available of io_uring, epoll and NIO.
     */
    public static SocketTransport chosen() {
        return chosen(System.getProperty(PROPERTY, ""));
    }

    /** As {@link #chosen()} with {@code name} in place of the system property. */
    static SocketTransport chosen(String name) {
        String wanted = name.trim();
        if (wanted.isEmpty() || wanted.equalsIgnoreCase("auto")) {
            for (SocketTransport t : values()) {
                if (t.available()) {
                    return t;
                }
            }
        }
        SocketTransport t;
        try {
            t = valueOf(wanted.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + name + ": not one of io_uring, epoll, nio, auto");
        }
        if (!t.available()) {
            throw new IllegalStateException("-D" + PROPERTY + "=" + name + " is unavailable here: " + t.unavailabilityCause(),
                    t.unavailabilityCause());
        }
        return t;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
