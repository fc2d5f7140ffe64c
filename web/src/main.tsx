import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router/dom";

import { BinaryTransport, platformTransport } from "./api";
import { createRouter } from "./App";
import { userManager } from "./auth";
import { loadConfig } from "./config";
import { ErrorBoundary } from "./Crash";
import { LanguageProvider } from "./i18n";
import { MediaProvider } from "./picture";
import "./styles.css";

const element = document.getElementById("root");
if (!element) throw new Error("index.html has no #root");
const root = createRoot(element);
loadConfig().then(
  (config) => {
    const users = userManager(config);
    const queries = new QueryClient({ defaultOptions: { queries: { staleTime: 30_000, retry: 1 } } });
    root.render(
      <StrictMode>
        <LanguageProvider>
          <ErrorBoundary>
            <TransportProvider transport={platformTransport(config, users)}>
              <BinaryTransport.Provider value={platformTransport(config, users, true)}>
                <QueryClientProvider client={queries}>
                  <MediaProvider base={config.bffUrl}>
                    <RouterProvider router={createRouter(users)} />
                  </MediaProvider>
                </QueryClientProvider>
              </BinaryTransport.Provider>
            </TransportProvider>
          </ErrorBoundary>
        </LanguageProvider>
      </StrictMode>,
    );
  },
  () => {
    root.render(
      <p role="alert">
        The shop cannot start: its configuration could not be loaded. /
        設定を読み込めないため、ショップを開始できません。
      </p>,
    );
  },
);
