// The FileStore contract against the local disk, each test in its own temporary root.
import { Effect } from "effect"
import { LocalFiles } from "../../../src/adapters/localfs/LocalFileStore.js"
import { fileStoreContract } from "../../contracts/FileStoreContract.js"
import { localFileStoreInTempDir } from "./LocalFsSupport.js"

fileStoreContract(
  "localfs",
  localFileStoreInTempDir,
  (key) => Effect.flatMap(LocalFiles, (store) => store.read(key))
)
