package io.nbdvault.cli;

import java.lang.reflect.Field;

/**
 * Run in a JVM of its own by {@link NettyDefaultsTest}: applies nbdvault's Netty defaults as
 * {@link Main} does, then prints how many free chunks Netty's adaptive allocator decided to keep —
 * which it reads from its property once, when its class initialises.
 */
public final class NettyDefaultsProbe {
    private NettyDefaultsProbe() {
    }

    public static void main(String[] args) throws ReflectiveOperationException {
        NettyDefaults.apply(System.getProperties());
        Field kept = Class.forName("io.netty.buffer.AdaptivePoolingAllocator").getDeclaredField("CHUNK_REUSE_QUEUE");
        kept.setAccessible(true);
        System.out.println(kept.getInt(null));
    }
}
