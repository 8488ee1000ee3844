package io.nbdvault.core;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class RequestsTest {
    @Test
    void rangeChecksCatchOverflowAndNegativeValues() {
        assertNull(Requests.checkRange(0, 10, 10));
        assertNull(Requests.checkRange(10, 0, 10));
        assertEquals(Errno.EINVAL, Requests.checkRange(11, 0, 10).errno());
        assertEquals(Errno.EINVAL, Requests.checkRange(5, 6, 10).errno());
        assertEquals(Errno.EINVAL, Requests.checkRange(-1, 1, 10).errno());
        assertEquals(Errno.EINVAL, Requests.checkRange(1, Long.MAX_VALUE, 10).errno());
        assertEquals(Errno.EINVAL, Requests.checkRange(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE).errno());
    }

    @Test
    void unknownNbdErrorsBecomeEinval() {
        assertEquals(Errno.EINVAL, Errno.fromNbd(9999));
        assertEquals(Errno.ENOSPC, Errno.fromNbd(28));
    }
}
