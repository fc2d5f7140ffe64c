import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { clients } from "./api";
import { App } from "./App";
import { userManager } from "./auth";
import { loadConfig } from "./config";
import { LanguageProvider } from "./i18n";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) => {
    const users = userManager(config);
    const queries = new QueryClient({ defaultOptions: { queries: { staleTime: 30_000, retry: 1 } } });
    root.render(
      <StrictMode>
        <QueryClientProvider client={queries}>
          <LanguageProvider>
            <App api={clients(config, users)} users={users} />
          </LanguageProvider>
        </QueryClientProvider>
      </StrictMode>,
    );
  },
  () =>
    root.render(
      <p role="alert">
        The shop cannot start: its configuration could not be loaded. / 設定を読み込めないため、ショップを開始できません。
      </p>,
    ),
);
