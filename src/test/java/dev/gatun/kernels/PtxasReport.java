package dev.gatun.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One kernel's ptxas figures for one architecture, parsed from nvcc --resource-usage output. */
public record PtxasReport(String kernel, String arch, int registers, int spillStoreBytes, int spillLoadBytes,
                   int stackBytes, int staticSharedBytes) {
    private static final Pattern ENTRY = Pattern.compile("Compiling entry function '([^']+)' for '(sm_\\w+)'");
    private static final Pattern FRAME = Pattern.compile("(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern USED = Pattern.compile("Used (\\d+) registers(?:.*?, (\\d+) bytes smem)?");

    public boolean spills() { return spillStoreBytes > 0 || spillLoadBytes > 0; }

    public static List<PtxasReport> parse(String text) {
        List<PtxasReport> reports = new ArrayList<>();
        String kernel = null, arch = null;
        int stack = 0, stores = 0, loads = 0;
        for (String line : text.split("\n")) {
            Matcher m;
            if ((m = ENTRY.matcher(line)).find()) {
                kernel = m.group(1);
                arch = m.group(2);
                stack = stores = loads = 0;
            } else if (kernel != null && (m = FRAME.matcher(line)).find()) {
                stack = Integer.parseInt(m.group(1));
                stores = Integer.parseInt(m.group(2));
                loads = Integer.parseInt(m.group(3));
            } else if (kernel != null && (m = USED.matcher(line)).find()) {
                int smem = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
                reports.add(new PtxasReport(kernel, arch, Integer.parseInt(m.group(1)), stores, loads, stack, smem));
                kernel = null;
            }
        }
        return reports;
    }
}
