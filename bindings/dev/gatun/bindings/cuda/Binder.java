package dev.gatun.bindings.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Resolves the symbols of one CUDA library (the driver, cuBLAS) into downcall handles,
 * collecting the names it could not find so that a loader reports all of them at once
 * instead of failing on the first.
 */
public final class Binder {

    /** A bound function: the exact symbol (for error messages) and its handle. */
    public record Fn(String symbol, MethodHandle handle) {}

    private final SymbolLookup lookup;
    private final Linker linker = Linker.nativeLinker();
    private final List<String> missing = new ArrayList<>();

    public Binder(SymbolLookup lookup) {
        this.lookup = lookup;
    }

    /** A required symbol; when absent it is recorded as missing and {@code null} returned. */
    public Fn require(String symbol, FunctionDescriptor descriptor) {
        Fn fn = find(symbol, descriptor).orElse(null);
        if (fn == null) {
            missing.add(symbol);
        }
        return fn;
    }

    /** The first symbol present, for entry points renamed across driver versions. */
    public Fn requireFirst(FunctionDescriptor descriptor, String... symbols) {
        for (String symbol : symbols) {
            Optional<Fn> fn = find(symbol, descriptor);
            if (fn.isPresent()) {
                return fn.get();
            }
        }
        missing.add(String.join("|", symbols));
        return null;
    }

    /** A symbol the binding can do without. */
    public Optional<Fn> find(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(address -> new Fn(symbol, linker.downcallHandle(address, descriptor)));
    }

    public List<String> missing() {
        return List.copyOf(missing);
    }
}
