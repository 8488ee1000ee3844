package io.nbdvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * packaging/systemd/nbdvault@.service as systemd would run it, without systemd: its ExecStartPre,
 * ExecStart, ExecStartPost and ExecStop lines are read from the unit, expanded with a per-volume
 * configuration file like systemd's EnvironmentFile= (and %i), and run in a real kernel
 * (cli/src/test/kernel/systemd-unit.sh): start, a filesystem, a crash (SIGKILL), the ExecStop
 * systemd runs then (which must not detach) and the restart Restart=on-failure does, which must
 * reconnect under the mounted filesystem, then stop.
 */
@Timeout(600)
class SystemdUnitKernelTest {
    @TempDir
    Path dir;

    @Test
    void theUnitsCommandsAttachSurviveARestartAndDetach() throws Exception {
        KernelGuest.requireTools("mkfs.ext4", "e2fsck");
        Path unit = KernelGuest.projectRoot().resolve("packaging/systemd/nbdvault@.service");
        Map<String, List<String>> exec = execLines(Files.readString(unit));
        Map<String, String> example = environmentFile(Files.readString(unit.resolveSibling("vault.conf.example")));
        assertEquals(Set.of("DEVICE", "MEMBERS", "KEY_FILE", "DEAD_CONN_TIMEOUT", "OPTIONS"), example.keySet());

        Path conf = dir.resolve("vault.conf");
        Files.writeString(conf, """
                # written by the test, in vault.conf.example's format
                DEVICE=/dev/nbd2
                MEMBERS="/tmp/replicas/m1.img /tmp/replicas/m2.img /tmp/replicas/m3.img"
                KEY_FILE=/tmp/key
                DEAD_CONN_TIMEOUT=60
                OPTIONS="--bitmap-delay 1 --kernel-timeout 4 --admin-socket /tmp/vault.admin"
                """);
        Map<String, String> env = environmentFile(Files.readString(conf));
        StringBuilder commands = new StringBuilder();
        for (String key : List.of("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop")) {
            assertTrue(exec.containsKey(key), "the unit has " + key);
            List<String> words = expand(exec.get(key), env, "vault").stream()
                    .map(w -> w.replace("/usr/bin/nbdvault", dir.resolve("nbdvault").toString())).toList();
            commands.append(key).append("=(").append(words.stream().map(KernelGuest::quote)
                    .collect(Collectors.joining(" "))).append(")\n");
        }
        Files.writeString(dir.resolve("unit-commands.sh"), commands);

        KernelGuest.run(dir, "systemd-unit.sh", Map.of(), Duration.ofMinutes(6)).assertOk();
        assertEquals("0", read("start-post"));
        assertEquals("0", read("stop-after-crash"));
        assertEquals("1", read("attached-after-crash-stop"), "ExecStop after a crash leaves the device attached");
        assertEquals("0", read("restart-post"));
        assertTrue(read("restart.log").contains("reconnect"), "the restart reconnected");
        assertEquals("0", read("write-after-restart"));
        assertEquals(read("sums-before"), read("sums-after"));
        assertEquals("0", read("stop"));
        assertTrue(Set.of("0", "143").contains(read("main-status")), read("main-status"));
        assertEquals("0", read("size-after-stop"));
        assertEquals("0", read("fsck"), () -> read("fsck.log"));
    }

    /** Without a kernel: the unit's command lines, expanded from a configuration, are the intended commands. */
    @Test
    void theUnitsCommandLinesExpandToAttachAndDetach() throws Exception {
        Path unit = KernelGuest.projectRoot().resolve("packaging/systemd/nbdvault@.service");
        Map<String, List<String>> exec = execLines(Files.readString(unit));
        Map<String, String> env = environmentFile("""
                DEVICE=/dev/nbd3
                MEMBERS="nbd://s1/ nbd://s2/  nbd://s3/"
                KEY_FILE=/etc/nbdvault/v.key
                DEAD_CONN_TIMEOUT=90
                OPTIONS=""
                """);
        assertEquals(List.of("/usr/bin/nbdvault", "attach", "--reconnect-if-attached", "/dev/nbd3", "--key-file",
                "/etc/nbdvault/v.key", "--dead-conn-timeout", "90", "nbd://s1/", "nbd://s2/", "nbd://s3/"),
                expand(exec.get("ExecStart"), env, "v"));
        List<String> stop = expand(exec.get("ExecStop"), env, "v");
        assertEquals(List.of("/bin/sh", "-c"), stop.subList(0, 2));
        assertTrue(stop.get(2).contains("$MAINPID") && stop.get(2).contains("/usr/bin/nbdvault detach \"$0\""), stop.get(2));
        assertEquals("/dev/nbd3", stop.get(3));
        List<String> post = expand(exec.get("ExecStartPost"), env, "v");
        assertEquals(List.of("/bin/sh", "-c"), post.subList(0, 2));
        assertTrue(post.get(2).contains("/sys/block/${0#/dev/}/size"), post.get(2));
        assertEquals("/dev/nbd3", post.get(3));
    }

    /** ExecXxx= lines of the unit (the last of each kind), split into words as systemd does; "-" prefixes dropped. */
    static Map<String, List<String>> execLines(String unit) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String line : unit.lines().toList()) {
            Matcher m = Pattern.compile("^(Exec[A-Za-z]+)=(.*)$").matcher(line.strip());
            if (m.matches()) {
                String command = m.group(2).strip();
                while (!command.isEmpty() && "-@:+!".indexOf(command.charAt(0)) >= 0) {
                    command = command.substring(1);
                }
                out.put(m.group(1), words(command));
            }
        }
        return out;
    }

    /** systemd's EnvironmentFile=: KEY=value lines, # comments, values optionally in quotes. */
    static Map<String, String> environmentFile(String text) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : text.lines().map(String::strip).toList()) {
            if (line.isEmpty() || line.startsWith("#") || !line.contains("=")) {
                continue;
            }
            String key = line.substring(0, line.indexOf('=')).strip();
            String value = line.substring(line.indexOf('=') + 1).strip();
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"") || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            env.put(key, value);
        }
        return env;
    }

    /** Words split on blanks, with '...' and "..." quoting. */
    static List<String> words(String command) {
        List<String> words = new ArrayList<>();
        StringBuilder w = null;
        char quote = 0;
        for (char c : command.toCharArray()) {
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    w.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                w = w == null ? new StringBuilder() : w;
            } else if (Character.isWhitespace(c)) {
                if (w != null) {
                    words.add(w.toString());
                    w = null;
                }
            } else {
                w = w == null ? new StringBuilder() : w;
                w.append(c);
            }
        }
        if (w != null) {
            words.add(w.toString());
        }
        return words;
    }

    /** systemd's expansion: a word $VAR becomes the value's words, ${VAR} is replaced in place, $$ is $, %i the instance. */
    static List<String> expand(List<String> words, Map<String, String> env, String instance) {
        List<String> out = new ArrayList<>();
        for (String word : words) {
            word = word.replace("%i", instance).replace("%%", "%");
            Matcher whole = Pattern.compile("^\\$([A-Za-z_][A-Za-z0-9_]*)$").matcher(word);
            if (whole.matches()) {
                out.addAll(words(env.getOrDefault(whole.group(1), "")));
                continue;
            }
            StringBuilder b = new StringBuilder();
            Matcher m = Pattern.compile("\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_]*)}").matcher(word);
            while (m.find()) {
                m.appendReplacement(b, Matcher.quoteReplacement(m.group(1) == null ? "$" : env.getOrDefault(m.group(1), "")));
            }
            m.appendTail(b);
            out.add(b.toString());
        }
        return out;
    }

    private String read(String name) {
        try {
            return KernelGuest.read(dir, name);
        } catch (Exception | AssertionError e) {
            return "(" + name + " unreadable)";
        }
    }
}
