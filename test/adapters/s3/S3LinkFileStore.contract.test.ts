// The FileStore contract on the API's store (links signed without an S3 client) against s3rver.
import { fileStoreContract } from "../../contracts/FileStoreContract.js"
import { readBack, s3LinkFileStoreOnS3rver } from "./S3Support.js"

fileStoreContract("s3 links without a client (s3rver)", s3LinkFileStoreOnS3rver, readBack)
