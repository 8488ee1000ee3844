package io.nbdvault.cli.replicated;

import io.nbdvault.cli.Main;
import io.nbdvault.cli.NbdvaultProcess;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.nbdvault.cli.replicated.IntegrityServeTest.qemuIo;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.admin;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.awaitResyncs;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * `key add|change|remove` on a replicated volume change its LUKS header through the array: every
 * member ends with the same header (cryptsetup opens each one with the new passphrase and none with
 * a removed one), naming one member finds the others, a member away during the change gets the new
 * header when it returns, the data stays readable and the copies agree (scrub), and a volume being
 * served is refused instead of changed underneath its server. Changing one member's header alone
 * used to succeed and be undone by the other copies.
 */
@Timeout(300)
class ReplicatedKeyTest {
    @TempDir
    Path dir;

    Path key(String name, String passphrase) throws Exception {
        Path key = dir.resolve(name);
        Files.writeString(key, passphrase);
        return key;
    }

    /** `create` of a 64 MiB volume, unlocked by {@code key}, over three file members; returns them. */
    List<String> fileArray(Path key) {
        List<String> members = List.of(dir.resolve("a.img").toString(), dir.resolve("b.img").toString(),
                dir.resolve("c.img").toString());
        List<String> create = new ArrayList<>(List.of("create", "--size", "64M", "--key-file", key.toString()));
        create.addAll(List.of(NbdkitReplicas.CHEAP_KDF));
        create.addAll(members);
        cli(create.toArray(String[]::new));
        return members;
    }

    static int key(String operation, Path key, Path newKey, String... targets) {
        List<String> args = new ArrayList<>(List.of("key", operation, "--key-file", key.toString()));
        if (newKey != null) {
            args.addAll(List.of("--new-key-file", newKey.toString()));
            args.addAll(List.of(NbdkitReplicas.CHEAP_KDF));
        }
        args.addAll(List.of(targets));
        return Main.run(args.toArray(String[]::new));
    }

    static boolean opens(String member, Path key) {
        return Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                member).exitCode() == 0;
    }

    static String luksDump(String member) {
        Proc.Result dump = Proc.run(60, ExternalTool.require("cryptsetup"), "luksDump", member);
        dump.assertOk();
        return dump.stdout();
    }

    NbdvaultProcess serve(Path key, Path socket, List<String> members) throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", socket.toString()));
        args.addAll(members);
        return NbdvaultProcess.start(dir, args.toArray(String[]::new)).awaitSocket(socket, Duration.ofSeconds(60));
    }

    @Test
    void everyCopyOfTheHeaderChangesAndTheDataStaysReadable() throws Exception {
        Path first = key("k1", "first passphrase");
        Path second = key("k2", "second passphrase");
        Path third = key("k3", "third passphrase");
        List<String> members = fileArray(first);
        Path socket = dir.resolve("vol.sock");
        String volume = "nbd+unix:///?socket=" + socket;

        try (NbdvaultProcess server = serve(first, socket, members)) {
            qemuIo(volume, "write -P 0x6b 1M 2M").assertOk();
            assertNotEquals(0, key("add", first, second, members.toArray(String[]::new)),
                    "a served volume is refused (its lease), not changed underneath its server");
            server.terminate(Duration.ofSeconds(60));
        }
        for (String m : members) {
            assertEquals(false, opens(m, second), m + " was changed while served");
        }

        assertEquals(0, key("add", first, second, members.toArray(String[]::new)));
        for (String m : members) {
            assertEquals(true, opens(m, second), m + " has the added passphrase");
        }
        assertEquals(0, key("change", first, third, members.get(1)), "one member named: the others are found");
        assertEquals(0, key("remove", second, null, members.get(2)));
        for (String m : members) {
            assertEquals(true, opens(m, third), m + " has the changed passphrase");
            assertEquals(false, opens(m, first), m + " still opens with the changed one");
            assertEquals(false, opens(m, second), m + " still opens with the removed one");
            assertEquals(luksDump(members.get(0)), luksDump(m), "every copy of the header alike");
        }

        try (NbdvaultProcess server = serve(third, socket, members)) {
            qemuIo(volume, "read -P 0x6b 1M 2M").assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(socket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void aMemberAwayDuringTheChangeGetsTheNewHeaderWhenItReturns() throws Exception {
        Path first = key("k1", "first passphrase");
        Path second = key("k2", "second passphrase");
        List<String> members = fileArray(first);

        Path away = dir.resolve("c.away");
        Files.move(Path.of(members.get(2)), away);
        assertEquals(0, key("change", first, second, members.get(0), members.get(1)), "assembled degraded");
        Files.move(away, Path.of(members.get(2)));
        assertEquals(true, opens(members.get(2), first), "the member away still has the old header");

        Path socket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(second, socket, members)) {
            awaitResyncs(socket, 1, true);
            server.terminate(Duration.ofSeconds(60));
        }
        assertEquals(true, opens(members.get(2), second), "the returning member got the new header");
        assertEquals(false, opens(members.get(2), first));
        assertEquals(luksDump(members.get(0)), luksDump(members.get(2)));
    }
}
