package io.nbdvault.transport.iscsi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * CHAP credentials from a file (--replica-chap-file), so that no secret has to be on a command
 * line or in a member's name. One entry a line, '#' starts a comment:
 * <pre>
 *   TARGET-IQN|*  USER SECRET  [TARGET-USER TARGET-SECRET]
 * </pre>
 * The first line naming the member's target (or '*') applies to a member whose URI carries no
 * password; a URI that names a user only takes the line with that user.
 */
public final class ChapSecrets {
    public static final ChapSecrets NONE = new ChapSecrets(List.of());

    private record Entry(String target, String user, byte[] secret, String targetUser, byte[] targetSecret) {
        @Override
        public String toString() {
            return target + " " + user + " ***";
        }
    }

    private final List<Entry> entries;

    private ChapSecrets(List<Entry> entries) {
        this.entries = entries;
    }

    public static ChapSecrets read(Path file) throws IOException {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException e) {
            perms = Set.of();
        }
        if (perms.contains(PosixFilePermission.OTHERS_READ)) {
            throw new IOException("CHAP file " + file + " is readable by everyone: chmod 600 it");
        }
        List<Entry> entries = new ArrayList<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] f = t.split("\\s+");
            if (f.length != 3 && f.length != 5) {
                throw new IOException("CHAP file " + file + " line " + n + ": expected TARGET USER SECRET "
                        + "[TARGET-USER TARGET-SECRET], found " + f.length + " fields");
            }
            entries.add(new Entry(f[0], f[1], f[2].getBytes(StandardCharsets.UTF_8), f.length == 5 ? f[3] : null,
                    f.length == 5 ? f[4].getBytes(StandardCharsets.UTF_8) : null));
        }
        return new ChapSecrets(List.copyOf(entries));
    }

    /** The member with the file's credentials filled in where its URI has none. */
    public IscsiTarget apply(IscsiTarget t) {
        IscsiTarget filled = fill(t);
        if (filled.targetUser() != null && filled.targetSecret() == null) {
            throw new IllegalArgumentException("no target CHAP secret for " + t + ": put it in "
                    + "LIBISCSI_CHAP_TARGET_PASSWORD or the --replica-chap-file");
        }
        return filled;
    }

    private IscsiTarget fill(IscsiTarget t) {
        if (t.secret() != null) {
            return t;
        }
        for (Entry e : entries) {
            if ((e.target.equals("*") || e.target.equals(t.targetName())) && (t.user() == null || t.user().equals(e.user))) {
                boolean ownTarget = t.targetUser() != null && t.targetSecret() != null;
                return t.withSecrets(e.user, e.secret, ownTarget ? t.targetUser() : e.targetUser,
                        ownTarget ? t.targetSecret() : e.targetSecret);
            }
        }
        if (t.user() != null) {
            throw new IllegalArgumentException("no CHAP secret for " + t + ": put it in LIBISCSI_CHAP_PASSWORD or "
                    + "the --replica-chap-file");
        }
        return t;
    }
}
