package io.nbdvault.nativeshim;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every constant in {@link Linux} against the system headers, printed by a C program gcc compiles. */
@Timeout(120)
class NativeConstantsTest {
    @TempDir
    Path dir;

    @Test
    void constantsMatchTheSystemHeaders() throws Exception {
        String gcc = ExternalTool.require("gcc");
        Map<String, Long> ours = new HashMap<>();
        StringBuilder c = new StringBuilder("""
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <fcntl.h>
                #include <errno.h>
                #include <unistd.h>
                #include <sys/mman.h>
                #include <sys/prctl.h>
                #include <sys/resource.h>
                #include <sys/socket.h>
                #include <sys/un.h>
                #include <linux/fs.h>
                #include <linux/falloc.h>
                #include <linux/nbd.h>
                int main(void) {
                """);
        for (Field f : Linux.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            ours.put(f.getName(), ((Number) f.get(null)).longValue());
            c.append("  printf(\"").append(f.getName()).append(" %llu\\n\", (unsigned long long) (")
                    .append(f.getName()).append("));\n");
        }
        c.append("  printf(\"sizeof_sockaddr_un %zu\\n\", sizeof(struct sockaddr_un));\n");
        c.append("  printf(\"sizeof_rlimit %zu\\n\", sizeof(struct rlimit));\n");
        c.append("  return 0;\n}\n");
        Path source = dir.resolve("constants.c");
        Files.writeString(source, c);
        Proc.run(60, gcc, "-o", dir.resolve("constants").toString(), source.toString()).assertOk();
        String out = Proc.run(30, dir.resolve("constants").toString()).assertOk().stdout();
        Map<String, Long> theirs = new HashMap<>();
        out.lines().forEach(line -> {
            String[] parts = line.split(" ");
            theirs.put(parts[0], Long.parseUnsignedLong(parts[1]));
        });
        for (Map.Entry<String, Long> e : ours.entrySet()) {
            assertEquals(theirs.get(e.getKey()), e.getValue(), e.getKey());
        }
        assertTrue(ours.size() > 30, "all constants were checked");
        assertEquals(110L, theirs.get("sizeof_sockaddr_un"), "UnixSocketFd's sockaddr_un layout");
        assertEquals(16L, theirs.get("sizeof_rlimit"), "ProcessHardening's rlimit layout");
    }
}
