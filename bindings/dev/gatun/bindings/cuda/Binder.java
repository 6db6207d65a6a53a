package dev.gatun.bindings.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Resolves driver symbols of one library into downcall handles, collecting the names it
 * could not find so that {@link CudaDriver#load} reports all of them at once instead of
 * failing on the first.
 */
final class Binder {

    /** A bound driver function: the exact symbol (for error messages) and its handle. */
    record Fn(String symbol, MethodHandle handle) {}

    private final SymbolLookup lookup;
    private final Linker linker = Linker.nativeLinker();
    private final List<String> missing = new ArrayList<>();

    Binder(SymbolLookup lookup) {
        this.lookup = lookup;
    }

    /** A required symbol; when absent it is recorded as missing and {@code null} returned. */
    Fn require(String symbol, FunctionDescriptor descriptor) {
        Fn fn = find(symbol, descriptor).orElse(null);
        if (fn == null) {
            missing.add(symbol);
        }
        return fn;
    }

    /** The first symbol present, for entry points renamed across driver versions. */
    Fn requireFirst(FunctionDescriptor descriptor, String... symbols) {
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
    Optional<Fn> find(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(address -> new Fn(symbol, linker.downcallHandle(address, descriptor)));
    }

    List<String> missing() {
        return List.copyOf(missing);
    }
}
