import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectQueryKey, useTransport } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import type { UserManager } from "oidc-client-ts";

import type { PlatformConfig } from "./config";

/**
 * The BFF over the Connect protocol, with the signed-in user's access token on every call. The app gets it from
 * `<TransportProvider>` (main.tsx): every query and mutation is made with connect-query's hooks, named by the
 * generated method they call (`useQuery(ProductService.method.getProduct, { id })`), and cached under that
 * method and its input.
 */
export function platformTransport(config: PlatformConfig, users: UserManager | null, binary = false): Transport {
  const bearer: Interceptor = (next) => async (request) => {
    const user = await users?.getUser();
    if (user && !user.expired) request.header.set("Authorization", `Bearer ${user.access_token}`);
    return next(request);
  };
  return createConnectTransport({ baseUrl: config.bffUrl, interceptors: [bearer], useBinaryFormat: binary });
}

/**
 * The same, with binary protobuf messages: for the calls that carry bytes (a picture's upload), which JSON
 * would send as base64, a third larger (past the BFF's limit for a picture near 10 MiB).
 */
export const BinaryTransport = createContext<Transport | null>(null);

export function useBinaryTransport(): Transport {
  const transport = useContext(BinaryTransport);
  if (!transport) throw new Error("no BinaryTransport provider (main.tsx)");
  return transport;
}

/**
 * The cached answers, addressed the way connect-query keys them: by the RPC (or a whole service) and its input,
 * never by a name of our own, so no query can be left out of an invalidation by being named differently.
 */
export function useAnswers() {
  const queries = useQueryClient();
  const transport = useTransport();
  return {
    /** Caches `answer` as what `method` answers for `input`, as if it had just been called (no call is made). */
    put<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      input: MessageInitShape<I>,
      answer: MessageInitShape<O>,
    ) {
      const queryKey = createConnectQueryKey({ schema: method, input, transport, cardinality: "finite" });
      queries.setQueryData(queryKey, create(method.output, answer));
    },
    /**
     * Marks stale every cached answer of `method` (to any input, single or paged; only those to `input` when it is
     * given) and fetches again the ones on screen; resolves once they are back.
     */
    refresh<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, input?: MessageInitShape<I>) {
      const queryKey = createConnectQueryKey({ schema: method, input, cardinality: undefined });
      return queries.invalidateQueries({ queryKey });
    },
    /** The same for every method of each of `services`. */
    refreshServices(...services: DescService[]) {
      return Promise.all(
        services.map((schema) =>
          queries.invalidateQueries({ queryKey: createConnectQueryKey({ schema, cardinality: undefined }) }),
        ),
      );
    },
  };
}

/** A paged list's next page: the token the last page answered, until one answers none. */
export function nextPage(last: { nextPageToken: string }): string | undefined {
  return last.nextPageToken || undefined;
}
