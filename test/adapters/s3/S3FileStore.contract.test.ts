// The FileStore contract against s3rver, a fresh server (and bucket directory) for each test.
import { fileStoreContract } from "../../contracts/FileStoreContract.js"
import { readBack, s3FileStoreOnS3rver } from "./S3Support.js"

fileStoreContract("s3 (s3rver)", s3FileStoreOnS3rver, readBack)
