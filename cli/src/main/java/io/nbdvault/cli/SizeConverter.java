package io.nbdvault.cli;

import picocli.CommandLine;

import java.util.Locale;

/** Sizes as users write them: 4096, 512K, 64M, 1G, 2T (binary units, optional trailing B or iB). */
public final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return parse(value);
    }

    /** For rates and limits where 0 means "unlimited". */
    public static final class ZeroAllowed implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return value.trim().equals("0") ? 0L : parse(value);
        }
    }

    public static long parse(String value) {
        String s = value.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                case 'P' -> shift = 50;
                default -> shift = 0;
            }
        }
        if (shift > 0) {
            s = s.substring(0, s.length() - 1);
        }
        long number;
        try {
            number = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a size (examples: 4096, 512K, 64M, 1G)");
        }
        if (number <= 0 || number > (Long.MAX_VALUE >> shift)) {
            throw new CommandLine.TypeConversionException("size '" + value + "' is out of range");
        }
        return number << shift;
    }
}
