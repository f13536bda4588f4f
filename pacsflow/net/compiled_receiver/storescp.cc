// pacsflow's compiled storage SCP: serves ONE association on a socket it is given.
//
// Started by a receiving process of pacsflow's receiver service
// (pacsflow/net/compiled_receiver/spawner.py) for each connection it accepts,
// with the connected socket as --fd. It keeps the guarantees of pacsflow's
// pynetdicom receiver (pacsflow/net/receiver.py):
//   - only the calling AE titles given with --allow may associate (others get
//     A-ASSOCIATE-RJ "calling AE title not recognized");
//   - each C-STORE's data set is streamed, as received, behind a file meta
//     header into <storage>/.incoming/<host>:<pid>:<n>.part (the name tells
//     pacsflow whose partial file it is, so a killed process's are deleted);
//   - its Study, Series and SOP Instance UIDs are read back and checked against
//     the UID grammar (digits and dots, at most 64 characters) before they name
//     <storage>/<study>/<series>/<sop>.dcm, so no sender can write elsewhere;
//   - the file is renamed into place whole, and only then is the C-STORE
//     answered: a PACS's success means the file is there;
//   - a file that cannot be written (disk full, a file-size limit) is answered
//     0xA700 and leaves nothing; bad UIDs are answered 0xC000.
// Files are not fsynced one by one: pacsflow syncs a study before marking it
// retrieved. The process dies with its parent (PR_SET_PDEATHSIG).
//
// Built by pacsflow on first use (pacsflow/net/compiled_receiver/build.py)
// against the DCMTK development headers.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/oflog/oflog.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

const Uint16 kOutOfResources = 0xA700;
const Uint16 kCannotUnderstand = 0xC000;

struct Options {
  int fd = -1;
  std::string storage;
  std::string implementation_uid;
  std::vector<std::string> allowed;
  pid_t parent = 0;
  int acse_timeout = 30;
  int dimse_timeout = 60;
  int idle_timeout = 60;
};

Options g_options;
std::string g_owner;  // "<host>:<pid>", the prefix of this process's partial files
unsigned long g_parts = 0;

void say(const std::string& message) {
  std::fprintf(stderr, "pacsflow-storescp %d: %s\n", static_cast<int>(getpid()), message.c_str());
}

std::string trimmed(const char* text) {
  std::string value(text ? text : "");
  const auto end = value.find_last_not_of(std::string(" \0", 2));
  return end == std::string::npos ? std::string() : value.substr(0, end + 1);
}

bool is_valid_uid(const std::string& uid) {
  // The UI grammar pacsflow checks (pacsflow.dicom.values.is_valid_uid):
  // components of digits separated by single dots, at most 64 characters.
  if (uid.empty() || uid.size() > 64) return false;
  bool after_dot = true;
  for (char c : uid) {
    if (c == '.') {
      if (after_dot) return false;
      after_dot = true;
    } else if (c >= '0' && c <= '9') {
      after_dot = false;
    } else {
      return false;
    }
  }
  return !after_dot;
}

// A DcmConsumer writing with write(2) straight to a descriptor. Unlike
// DCMTK's file stream it reports every failure, the last buffer's included
// (DCMTK ignores the result of closing its stdio file). After a failure it
// swallows the rest of the data set, so the association goes on and the
// C-STORE can be answered with a failure status.
class DescriptorConsumer : public DcmConsumer {
 public:
  explicit DescriptorConsumer(int fd) : fd_(fd) {}
  OFBool good() const override { return OFTrue; }
  OFCondition status() const override { return EC_Normal; }
  OFBool isFlushed() const override { return OFTrue; }
  offile_off_t avail() const override { return 1 << 30; }
  offile_off_t write(const void* buf, offile_off_t buflen) override {
    if (error_ == 0) {
      const char* data = static_cast<const char*>(buf);
      offile_off_t left = buflen;
      while (left > 0) {
        const ssize_t done = ::write(fd_, data, static_cast<size_t>(left));
        if (done < 0) {
          if (errno == EINTR) continue;
          error_ = errno;
          break;
        }
        data += done;
        left -= done;
      }
    }
    return buflen;
  }
  void flush() override {}
  int error() const { return error_; }
  void fail(int error) {
    if (error_ == 0) error_ = error;
  }

 private:
  int fd_;
  int error_ = 0;
};

class DescriptorStream : public DcmOutputStream {
 public:
  explicit DescriptorStream(DescriptorConsumer* consumer) : DcmOutputStream(consumer) {}
};

void append_element(std::string& out, Uint16 group, Uint16 element, const char* vr,
                    std::string value, char pad) {
  if (value.size() % 2) value += pad;
  const unsigned char head[8] = {
      static_cast<unsigned char>(group & 0xff), static_cast<unsigned char>(group >> 8),
      static_cast<unsigned char>(element & 0xff), static_cast<unsigned char>(element >> 8),
      static_cast<unsigned char>(vr[0]), static_cast<unsigned char>(vr[1]),
      static_cast<unsigned char>(value.size() & 0xff),
      static_cast<unsigned char>(value.size() >> 8)};
  out.append(reinterpret_cast<const char*>(head), 8);
  out += value;
}

// The preamble, "DICM" and the File Meta Information, as pacsflow's Python
// receiver writes them (pacsflow.net.storage_files.file_meta_bytes).
std::string file_meta(const std::string& sop_class, const std::string& sop_uid,
                      const std::string& transfer_syntax, const std::string& source_ae) {
  std::string body;
  body.append("\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01", 14);
  append_element(body, 0x0002, 0x0002, "UI", sop_class, '\0');
  append_element(body, 0x0002, 0x0003, "UI", sop_uid, '\0');
  append_element(body, 0x0002, 0x0010, "UI", transfer_syntax, '\0');
  append_element(body, 0x0002, 0x0012, "UI", g_options.implementation_uid, '\0');
  append_element(body, 0x0002, 0x0013, "SH", "PACSFLOW", ' ');
  append_element(body, 0x0002, 0x0016, "AE", source_ae, ' ');
  std::string out(128, '\0');
  out += "DICM";
  const Uint32 length = static_cast<Uint32>(body.size());
  const unsigned char group_length[12] = {
      0x02, 0x00, 0x00, 0x00, 'U', 'L', 0x04, 0x00,
      static_cast<unsigned char>(length & 0xff), static_cast<unsigned char>((length >> 8) & 0xff),
      static_cast<unsigned char>((length >> 16) & 0xff), static_cast<unsigned char>(length >> 24)};
  out.append(reinterpret_cast<const char*>(group_length), 12);
  return out + body;
}

bool make_folder(const std::string& path) {
  return mkdir(path.c_str(), 0777) == 0 || errno == EEXIST;
}

struct Stored {
  Uint16 status = STATUS_Success;
  std::string reason;
};

// Read the three naming UIDs back from the partial file and move it into place.
Stored place(const std::string& part, const std::string& request_sop_uid) {
  DcmFileFormat file;
  const OFCondition read = file.loadFileUntilTag(part.c_str(), EXS_Unknown, EGL_noChange, 256,
                                                 ERM_autoDetect, DcmTagKey(0x0020, 0x000F));
  if (read.bad()) return {kCannotUnderstand, std::string("undecodable data set (") + read.text() + ")"};
  DcmDataset* dataset = file.getDataset();
  const DcmTagKey keys[3] = {DCM_StudyInstanceUID, DCM_SeriesInstanceUID, DCM_SOPInstanceUID};
  const char* names[3] = {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"};
  std::string uids[3];
  std::string bad;
  for (int i = 0; i < 3; ++i) {
    OFString value;
    dataset->findAndGetOFString(keys[i], value);
    uids[i] = trimmed(value.c_str());
    if (!is_valid_uid(uids[i])) bad += (bad.empty() ? "" : ", ") + std::string(names[i]);
  }
  if (!bad.empty()) return {kCannotUnderstand, "invalid or missing " + bad};
  if (uids[2] != request_sop_uid) {
    return {kCannotUnderstand, "the data set's SOPInstanceUID is not the request's"};
  }
  std::string folder = g_options.storage + "/" + uids[0];
  if (!make_folder(folder) || !make_folder(folder += "/" + uids[1])) {
    return {kOutOfResources, "cannot create " + folder + " (" + std::strerror(errno) + ")"};
  }
  const std::string target = folder + "/" + uids[2] + ".dcm";
  if (rename(part.c_str(), target.c_str()) != 0) {
    return {kOutOfResources, "cannot write " + target + " (" + std::strerror(errno) + ")"};
  }
  return {};
}

// Receive one C-STORE's data set into a partial file and place it; the status to answer.
OFCondition receive_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres_id,
                          const T_DIMSE_C_StoreRQ& request, const std::string& calling_ae,
                          Stored& stored) {
  T_ASC_PresentationContext context;
  if (ASC_findAcceptedPresentationContext(assoc->params, pres_id, &context).bad()) {
    return DIMSE_BADDATA;
  }
  std::string part;
  int fd = -1;
  while (fd < 0) {
    part = g_options.storage + "/.incoming/" + g_owner + ":" + std::to_string(g_parts++) + ".part";
    fd = open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  DescriptorConsumer consumer(fd);
  if (fd < 0) consumer.fail(errno);
  const std::string meta = file_meta(trimmed(request.AffectedSOPClassUID),
                                     trimmed(request.AffectedSOPInstanceUID),
                                     context.acceptedTransferSyntax, calling_ae);
  consumer.write(meta.data(), static_cast<offile_off_t>(meta.size()));
  OFCondition cond;
  {
    DescriptorStream stream(&consumer);
    T_ASC_PresentationContextID data_id = pres_id;
    cond = DIMSE_receiveDataSetInFile(assoc, DIMSE_NONBLOCKING, g_options.dimse_timeout, &data_id,
                                      &stream, NULL, NULL);
    stream.flush();
  }
  if (fd >= 0 && close(fd) != 0) consumer.fail(errno);
  if (cond.good() && consumer.error() != 0) {
    stored = {kOutOfResources, "cannot write " + part + " (" + std::strerror(consumer.error()) + ")"};
  } else if (cond.good()) {
    stored = place(part, trimmed(request.AffectedSOPInstanceUID));
  }
  if (fd >= 0 && (cond.bad() || stored.status != STATUS_Success)) unlink(part.c_str());
  return cond;
}

OFCondition answer_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres_id,
                         T_DIMSE_C_StoreRQ& request, const Stored& stored) {
  if (stored.status != STATUS_Success) {
    char code[8];
    std::snprintf(code, sizeof code, "%04X", stored.status);
    say(std::string("C-STORE refused with status 0x") + code + ": " + stored.reason);
  }
  T_DIMSE_C_StoreRSP response;
  std::memset(&response, 0, sizeof response);
  response.MessageIDBeingRespondedTo = request.MessageID;
  response.DimseStatus = stored.status;
  response.DataSetType = DIMSE_DATASET_NULL;
  OFStandard::strlcpy(response.AffectedSOPClassUID, request.AffectedSOPClassUID,
                      sizeof response.AffectedSOPClassUID);
  OFStandard::strlcpy(response.AffectedSOPInstanceUID, request.AffectedSOPInstanceUID,
                      sizeof response.AffectedSOPInstanceUID);
  response.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
  return DIMSE_sendStoreResponse(assoc, pres_id, &request, &response, NULL);
}

// Accept each proposed storage (or verification) context with the first transfer
// syntax the sender proposes that DCMTK knows, as pacsflow's pynetdicom receiver does.
OFCondition accept_contexts(T_ASC_Parameters* params) {
  const int count = ASC_countPresentationContexts(params);
  for (int i = 0; i < count; ++i) {
    T_ASC_PresentationContext context;
    OFCondition cond = ASC_getPresentationContext(params, i, &context);
    if (cond.bad()) return cond;
    const bool known = strcmp(context.abstractSyntax, UID_VerificationSOPClass) == 0 ||
                       dcmIsaStorageSOPClassUID(context.abstractSyntax, ESSC_All);
    const char* chosen = NULL;
    for (int j = 0; known && j < context.transferSyntaxCount && chosen == NULL; ++j) {
      if (DcmXfer(context.proposedTransferSyntaxes[j]).getXfer() != EXS_Unknown) {
        chosen = context.proposedTransferSyntaxes[j];
      }
    }
    if (chosen != NULL) {
      cond = ASC_acceptPresentationContext(params, context.presentationContextID, chosen);
    } else {
      cond = ASC_refusePresentationContext(params, context.presentationContextID,
                                           known ? ASC_P_TRANSFERSYNTAXESNOTSUPPORTED
                                                 : ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
    }
    if (cond.bad()) return cond;
  }
  return EC_Normal;
}

OFCondition serve(T_ASC_Association* assoc, const std::string& calling_ae) {
  for (;;) {
    T_DIMSE_Message message;
    T_ASC_PresentationContextID pres_id = 0;
    DcmDataset* detail = NULL;
    OFCondition cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, g_options.idle_timeout,
                                            &pres_id, &message, &detail);
    delete detail;
    if (cond.bad()) return cond;
    if (message.CommandField == DIMSE_C_ECHO_RQ) {
      cond = DIMSE_sendEchoResponse(assoc, pres_id, &message.msg.CEchoRQ, STATUS_Success, NULL);
    } else if (message.CommandField == DIMSE_C_STORE_RQ) {
      Stored stored;
      cond = receive_store(assoc, pres_id, message.msg.CStoreRQ, calling_ae, stored);
      if (cond.good()) cond = answer_store(assoc, pres_id, message.msg.CStoreRQ, stored);
    } else {
      say("cannot handle command 0x" + std::to_string(message.CommandField) + ": aborting");
      return DIMSE_BADCOMMANDTYPE;
    }
    if (cond.bad()) return cond;
  }
}

void reject(T_ASC_Association* assoc, T_ASC_RejectParametersReason reason) {
  T_ASC_RejectParameters rejection = {ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER,
                                      reason};
  ASC_rejectAssociation(assoc, &rejection);
}

int run() {
  T_ASC_Network* network = NULL;
  dcmExternalSocketHandle.set(g_options.fd);
  OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, 0, g_options.acse_timeout, &network);
  if (cond.bad()) {
    say(std::string("cannot start the network layer: ") + cond.text());
    return 3;
  }
  T_ASC_Association* assoc = NULL;
  cond = ASC_receiveAssociation(network, &assoc, ASC_MAXIMUMPDUSIZE);
  int code = 0;
  if (cond.good()) {
    DIC_AE calling, called;
    ASC_getAPTitles(assoc->params, calling, sizeof calling, called, sizeof called, NULL, 0);
    const std::string calling_ae = trimmed(calling);
    bool allowed = false;
    for (const auto& title : g_options.allowed) allowed = allowed || title == calling_ae;
    char context_name[128];
    if (!allowed) {
      say("association from calling AE title '" + calling_ae + "' rejected: not allowed");
      reject(assoc, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
    } else if (ASC_getApplicationContextName(assoc->params, context_name, sizeof context_name)
                   .bad() ||
               strcmp(context_name, UID_StandardApplicationContext) != 0) {
      reject(assoc, ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED);
    } else if (accept_contexts(assoc->params).good() &&
               ASC_setAPTitles(assoc->params, NULL, NULL, called).good() &&
               ASC_acknowledgeAssociation(assoc).good()) {
      cond = serve(assoc, calling_ae);
      if (cond == DUL_PEERREQUESTEDRELEASE) {
        ASC_acknowledgeRelease(assoc);
      } else if (cond != DUL_PEERABORTEDASSOCIATION) {
        say(std::string("association aborted: ") + cond.text());
        ASC_abortAssociation(assoc);
        code = 1;
      }
    }
  } else {
    say(std::string("no association: ") + cond.text());
    code = 1;
  }
  if (assoc != NULL) {
    ASC_dropSCPAssociation(assoc);
    ASC_destroyAssociation(&assoc);
  }
  ASC_dropNetwork(&network);
  return code;
}

bool parse(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--fd") g_options.fd = std::atoi(value);
    else if (name == "--storage") g_options.storage = value;
    else if (name == "--allow") g_options.allowed.emplace_back(value);
    else if (name == "--implementation-uid") g_options.implementation_uid = value;
    else if (name == "--parent") g_options.parent = static_cast<pid_t>(std::atoi(value));
    else if (name == "--acse-timeout") g_options.acse_timeout = std::atoi(value);
    else if (name == "--dimse-timeout") g_options.dimse_timeout = std::atoi(value);
    else if (name == "--idle-timeout") g_options.idle_timeout = std::atoi(value);
    else return false;
  }
  return argc % 2 == 1 && g_options.fd >= 0 && !g_options.storage.empty() &&
         !g_options.allowed.empty() && !g_options.implementation_uid.empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--check") return 0;  // the build's smoke test
  if (!parse(argc, argv)) {
    std::fprintf(stderr,
                 "usage: pacsflow-storescp --fd N --storage DIR --allow AET [--allow AET...] "
                 "--implementation-uid UID [--parent PID] [--acse-timeout S] "
                 "[--dimse-timeout S] [--idle-timeout S]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (g_options.parent != 0 && getppid() != g_options.parent) return 1;  // died before prctl
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit fails the write (EFBIG) instead
  std::signal(SIGPIPE, SIG_IGN);
  OFLog::configure(OFLogger::WARN_LOG_LEVEL);
  // Reading a file only up to its Series Instance UID is what place() asks for:
  // dcmdata's warning that it skipped the rest would be one log line per file.
  OFLog::getLogger("dcmtk.dcmdata").setLogLevel(OFLogger::ERROR_LOG_LEVEL);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  g_owner = std::string(host) + ":" + std::to_string(getpid());
  return run();
}
