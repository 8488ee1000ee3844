package io.nbdvault.crypto.luks;

import static io.nbdvault.testing.Devices.read;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LUKS volumes exchanged with cryptsetup (and, for LUKS1, qemu), checked byte for byte. */
@Timeout(300)
class LuksInteropTest {
    static final long SIZE = 40L << 20;
    static final byte[] PASS = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    static LuksFormatOptions cheap(Pbkdf pbkdf, int sectorSize) {
        // Fixed small costs keep the suite fast; calibration is tested separately.
        return LuksFormatOptions.defaults().withPbkdf(pbkdf).withSectorSize(sectorSize)
                .withCost(pbkdf == Pbkdf.PBKDF2 ? 1000 : 4, 8192, 1);
    }

    Path keyFile(byte[] secret) throws Exception {
        Path p = Files.createTempFile(dir, "key", ".bin");
        Files.write(p, secret);
        return p;
    }

    static Passphrase pass() {
        return Passphrase.ofBytes(PASS.clone());
    }

    FileDevice image(String name) throws Exception {
        return FileDevice.create(dir.resolve(name), SIZE, FileSpace.NONE);
    }

    static void write(BlockDevice d, long offset, byte[] data) {
        d.write(offset, Unpooled.wrappedBuffer(data.clone()), WriteFlags.FUA).join();
    }


    @ParameterizedTest(name = "{0}, {1}-byte sectors")
    @CsvSource({"ARGON2ID, 512", "ARGON2ID, 4096", "PBKDF2, 512", "PBKDF2, 4096"})
    void cryptsetupAcceptsWhatWeFormatAndDecryptsToWhatWeWrote(Pbkdf pbkdf, int sectorSize) throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        Path img = dir.resolve("v.img");
        byte[] plain = new byte[3 * 4096];
        new Random(sectorSize).nextBytes(plain);
        try (FileDevice raw = image("v.img")) {
            Luks.format(raw, pass(), cheap(pbkdf, sectorSize));
            try (LuksVolume vol = Luks.open(raw, pass())) {
                assertEquals(sectorSize, vol.sectorSize());
                assertEquals(SIZE - (16 << 20), vol.plaintext().size());
                write(vol.plaintext(), 8192, plain);
            }
        }
        Path key = keyFile(PASS);
        String dump = Proc.run(60, cryptsetup, "luksDump", img.toString()).assertOk().stdout();
        assertTrue(dump.contains("Version:       \t2") || dump.contains("Version:"), dump);
        assertTrue(dump.contains(pbkdf == Pbkdf.PBKDF2 ? "pbkdf2" : "argon2id"), dump);
        assertTrue(dump.contains("sector: " + sectorSize), dump);
        Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", key.toString(), img.toString()).assertOk();
        Path wrong = keyFile("wrong".getBytes(StandardCharsets.UTF_8));
        assertNotEquals(0, Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", wrong.toString(),
                img.toString()).exitCode());

        // The ciphertext on disk, decrypted by OpenSSL's XTS with the key cryptsetup extracts, is our plaintext.
        byte[] volumeKey = dumpVolumeKey(cryptsetup, img, key);
        byte[] cipherText = java.util.Arrays.copyOfRange(Files.readAllBytes(img), (16 << 20) + 8192,
                (16 << 20) + 8192 + plain.length);
        assertArrayEquals(plain, opensslDecrypt(volumeKey, cipherText, sectorSize, 8192 / 512));
    }

    @ParameterizedTest(name = "cryptsetup luks2, {0}-byte sectors, {1}")
    @CsvSource({"512, pbkdf2", "4096, argon2id"})
    void weOpenWhatCryptsetupFormats(int sectorSize, String pbkdf) throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        Path img = dir.resolve("c.img");
        try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        Path key = keyFile(PASS);
        var cmd = new java.util.ArrayList<>(java.util.List.of(cryptsetup, "luksFormat", "--batch-mode", "--type", "luks2",
                "--key-file", key.toString(), "--sector-size", Integer.toString(sectorSize), "--pbkdf", pbkdf));
        cmd.addAll(pbkdf.equals("pbkdf2") ? java.util.List.of("--pbkdf-force-iterations", "1000")
                : java.util.List.of("--pbkdf-memory", "8192", "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "1"));
        cmd.add(img.toString());
        Proc.run(120, null, cmd).assertOk();
        byte[] plain = new byte[8192];
        new Random(3).nextBytes(plain);
        try (FileDevice raw = FileDevice.open(img, false); LuksVolume vol = Luks.open(raw, pass())) {
            assertEquals(sectorSize, vol.sectorSize());
            write(vol.plaintext(), 4096, plain);
            assertArrayEquals(plain, read(vol.plaintext(), 4096, plain.length));
        }
        byte[] volumeKey = dumpVolumeKey(cryptsetup, img, key);
        byte[] cipherText = java.util.Arrays.copyOfRange(Files.readAllBytes(img), (16 << 20) + 4096, (16 << 20) + 4096 + 8192);
        assertArrayEquals(plain, opensslDecrypt(volumeKey, cipherText, sectorSize, 4096 / 512));
    }

    @Test
    void luks1VolumesOpenAndQemuReadsWhatWeWrote() throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        String qemuIo = ExternalTool.require("qemu-io");
        Path img = dir.resolve("l1.img");
        try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        // qemu-img create -f luks needs getrusage(RUSAGE_THREAD) timings, which these VMs do not provide
        // ("Unable to get accurate CPU usage"); cryptsetup writes the same LUKS1 format with fixed iterations.
        Path key = keyFile(PASS);
        Proc.run(120, cryptsetup, "luksFormat", "--batch-mode", "--type", "luks1", "--hash", "sha256",
                "--pbkdf-force-iterations", "1000", "--key-file", key.toString(), img.toString()).assertOk();
        byte[] plain = new byte[65536];
        java.util.Arrays.fill(plain, (byte) 0x5c);
        try (FileDevice raw = FileDevice.open(img, false); LuksVolume vol = Luks.open(raw, pass())) {
            assertEquals(1, vol.version());
            write(vol.plaintext(), 1 << 20, plain);
        }
        Proc.run(120, qemuIo, "--object", "secret,id=s0,file=" + key, "--image-opts",
                "driver=luks,key-secret=s0,file.filename=" + img, "-r", "-c", "read -P 0x5c 1M 64k").assertOk();
        Proc.Result wrongPattern = Proc.run(120, qemuIo, "--object", "secret,id=s0,file=" + key, "--image-opts",
                "driver=luks,key-secret=s0,file.filename=" + img, "-r", "-c", "read -P 0x5d 1M 64k");
        assertTrue(wrongPattern.stdout().contains("Pattern verification failed"), wrongPattern.stdout());
        assertTrue(Luks.dump(FileDevice.open(img, true)).contains("Version:        1"));
    }

    @Test
    void luks1WrittenByNbdvaultOpensInCryptsetupAndQemu() throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        String qemuIo = ExternalTool.require("qemu-io");
        Path img = dir.resolve("w1.img");
        Path key = keyFile(PASS);
        byte[] plain = new byte[8192];
        new java.util.Random(12).nextBytes(plain);
        try (FileDevice raw = image("w1.img")) {
            Luks.formatLuks1(raw, pass(), cheap(Pbkdf.PBKDF2, 512));
            try (LuksVolume vol = Luks.open(raw, pass())) {
                assertEquals(1, vol.version());
                write(vol.plaintext(), 4096, plain);
            }
            LuksException argon = assertThrows(LuksException.class,
                    () -> Luks.formatLuks1(raw, pass(), cheap(Pbkdf.ARGON2ID, 512)));
            assertTrue(argon.getMessage().contains("pbkdf2"), argon.getMessage());
            assertThrows(LuksException.class, () -> Luks.formatLuks1(raw, pass(), cheap(Pbkdf.PBKDF2, 4096)));
        }
        String dump = Proc.run(60, cryptsetup, "luksDump", img.toString()).assertOk().stdout();
        assertTrue(dump.matches("(?s).*Version:\\s+1\\b.*") && dump.contains("xts-plain64") && dump.contains("sha256")
                && dump.matches("(?s).*Payload offset:\\s+4096\\b.*"), dump);
        Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", key.toString(), img.toString()).assertOk();
        assertNotEquals(0, Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file",
                keyFile("not it".getBytes(StandardCharsets.UTF_8)).toString(), img.toString()).exitCode());
        // Byte for byte: OpenSSL's XTS with the key cryptsetup recovers decrypts what nbdvault wrote.
        byte[] volumeKey = dumpVolumeKey(cryptsetup, img, key);
        byte[] cipherText = java.util.Arrays.copyOfRange(Files.readAllBytes(img), (2 << 20) + 4096, (2 << 20) + 4096 + 8192);
        assertArrayEquals(plain, opensslDecrypt(volumeKey, cipherText, 512, 4096 / 512));
        // And qemu's luks driver decrypts it to the same plaintext.
        Path out = dir.resolve("plain.raw");
        Proc.run(120, ExternalTool.require("qemu-img"), "convert", "--object", "secret,id=s0,file=" + key, "--image-opts",
                "driver=luks,key-secret=s0,file.filename=" + img, "-O", "raw", out.toString()).assertOk();
        assertArrayEquals(plain, java.util.Arrays.copyOfRange(Files.readAllBytes(out), 4096, 4096 + 8192));
        Proc.run(120, qemuIo, "--object", "secret,id=s0,file=" + key, "--image-opts",
                "driver=luks,key-secret=s0,file.filename=" + img, "-c", "write -P 0x3c 1M 64k").assertOk();
        try (FileDevice raw = FileDevice.open(img, false); LuksVolume vol = Luks.open(raw, pass())) {
            byte[] pattern = new byte[65536];
            java.util.Arrays.fill(pattern, (byte) 0x3c);
            assertArrayEquals(pattern, io.nbdvault.testing.Devices.read(vol.plaintext(), 1 << 20, 65536),
                    "and nbdvault reads what qemu wrote");
        }
    }

    @Test
    void addRemoveAndChangeKeysStayReadableByCryptsetup() throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        Path img = dir.resolve("k.img");
        byte[] second = "second passphrase".getBytes(StandardCharsets.UTF_8);
        byte[] third = "third passphrase".getBytes(StandardCharsets.UTF_8);
        try (FileDevice raw = image("k.img")) {
            Luks.format(raw, pass(), cheap(Pbkdf.ARGON2ID, 512));
            assertEquals(1, Luks.addKey(raw, pass(), Passphrase.ofBytes(second.clone()), cheap(Pbkdf.PBKDF2, 512)));
            Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", keyFile(second).toString(),
                    img.toString()).assertOk();
            Luks.changeKey(raw, Passphrase.ofBytes(second.clone()), Passphrase.ofBytes(third.clone()),
                    cheap(Pbkdf.ARGON2ID, 512));
            assertNotEquals(0, Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file",
                    keyFile(second).toString(), img.toString()).exitCode(), "the changed passphrase no longer opens");
            Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", keyFile(third).toString(),
                    img.toString()).assertOk();
            Luks.removeKey(raw, pass(), false);
            assertThrows(LuksException.class, () -> Luks.open(raw, pass()));
            LuksException last = assertThrows(LuksException.class,
                    () -> Luks.removeKey(raw, Passphrase.ofBytes(third.clone()), false));
            assertTrue(last.getMessage().contains("last key slot"), last.getMessage());
            Luks.open(raw, Passphrase.ofBytes(third.clone())).close();
        }
        String dump = Proc.run(60, cryptsetup, "luksDump", img.toString()).assertOk().stdout();
        assertTrue(!dump.contains("  0: luks2"), dump);
    }

    private byte[] dumpVolumeKey(String cryptsetup, Path img, Path key) {
        String out = Proc.run(120, cryptsetup, "luksDump", "--dump-volume-key", "--batch-mode", "--key-file",
                key.toString(), img.toString()).assertOk().stdout();
        Matcher m = Pattern.compile("(?s)(?:MK|Volume key) dump:\\s*(.*)").matcher(out);
        assertTrue(m.find(), out);
        String hex = m.group(1).replaceAll("[^0-9a-fA-F ]", " ").trim().replaceAll("\\s+", "");
        return HexFormat.of().parseHex(hex);
    }

    private byte[] opensslDecrypt(byte[] key, byte[] data, int sectorSize, long firstTweak) throws Exception {
        Path in = dir.resolve("ct.bin");
        Path keyPath = dir.resolve("vk.bin");
        Path out = dir.resolve("pt.bin");
        Files.write(in, data);
        Files.write(keyPath, key);
        String script = String.join("\n", "import sys",
                "from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes",
                "key = open(sys.argv[1], 'rb').read(); data = open(sys.argv[2], 'rb').read(); size = int(sys.argv[3])",
                "tweak = int(sys.argv[4]); step = size // 512; out = bytearray()",
                "for i in range(len(data) // size):",
                "    d = Cipher(algorithms.AES(key), modes.XTS((tweak + i * step).to_bytes(16, 'little'))).decryptor()",
                "    out += d.update(data[i * size:(i + 1) * size]) + d.finalize()",
                "open(sys.argv[5], 'wb').write(out)");
        Files.writeString(dir.resolve("dec.py"), script);
        ExternalTool.require("python3");
        io.nbdvault.crypto.xts.AesXtsTest.requirePythonCryptography("/usr/bin/python3");
        Proc.run(60, "/usr/bin/python3", dir.resolve("dec.py").toString(), keyPath.toString(), in.toString(),
                Integer.toString(sectorSize), Long.toString(firstTweak), out.toString()).assertOk();
        return Files.readAllBytes(out);
    }
}
